-- name: UserDelete :execrows
-- Grants and sessions go with the user (ON DELETE CASCADE).
DELETE FROM sec_user
WHERE id = @id;
