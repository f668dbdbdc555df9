-- name: UserDelete :execrows
-- Grants and sessions go with the user (ON DELETE CASCADE).
DELETE FROM sec_user
WHERE id = @id;

-- name: UserGetPrefs :one
SELECT lang, time_zone
FROM sec_user
WHERE id = @id;

-- name: UserSetPrefs :execrows
UPDATE sec_user
SET lang = @lang, time_zone = @time_zone
WHERE id = @id;
