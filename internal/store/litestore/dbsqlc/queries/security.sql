-- name: AccessTokenConsume :one
DELETE FROM sec_token
WHERE hash = @hash
    AND kind = @kind
    AND revoked_at IS NULL
    AND (expires_at IS NULL OR expires_at > @now)
RETURNING *;

-- name: AccessTokenCount :one
SELECT count(*)
FROM sec_token
WHERE kind = @kind;

-- name: AccessTokenGetByHash :one
SELECT *
FROM sec_token
WHERE hash = @hash;

-- name: AccessTokenInsert :one
INSERT INTO sec_token (id, name, kind, hash, namespaces, role, user_id, created_by, expires_at, created_at)
VALUES (
    @id, @name, @kind, @hash, @namespaces, @role, @user_id, @created_by, sqlc.narg('expires_at'),
    @now
)
RETURNING *;

-- name: AccessTokenList :many
SELECT *
FROM sec_token
WHERE kind = @kind
ORDER BY created_at DESC, id;

-- name: AccessTokenRevoke :one
UPDATE sec_token
SET revoked_at = coalesce(revoked_at, @now)
WHERE id = @id
RETURNING *;

-- name: AccessTokenTouch :execrows
UPDATE sec_token
SET last_used_at = @now
WHERE id = @id;

-- name: AuditDeleteBefore :execrows
DELETE FROM sec_audit
WHERE at < @before;

-- name: AuditInsert :execlastid
-- The driver builds the entry from its input and the new row id (no
-- RETURNING, which costs SQLite more than the insert).
INSERT INTO sec_audit (at, actor, actor_kind, action, object_type, object_id, namespace, remote_addr, request_id, diff)
VALUES (
    @at,
    @actor, @actor_kind, @action, @object_type, @object_id, @namespace, @remote_addr, @request_id, @diff
);

-- name: AuditList :many
SELECT *
FROM sec_audit
WHERE (CAST(sqlc.narg('from_at') AS INTEGER) IS NULL OR at >= CAST(sqlc.narg('from_at') AS INTEGER))
    AND (CAST(sqlc.narg('to_at') AS INTEGER) IS NULL OR at < CAST(sqlc.narg('to_at') AS INTEGER))
    AND (CAST(@actor AS TEXT) = '' OR actor = CAST(@actor AS TEXT))
    AND (CAST(@action AS TEXT) = '' OR action = CAST(@action AS TEXT))
    AND (CAST(@namespace AS TEXT) = '' OR namespace = CAST(@namespace AS TEXT))
ORDER BY at DESC, id DESC
LIMIT @max_rows OFFSET @skip_rows;

-- name: GrantDelete :execrows
DELETE FROM sec_grant
WHERE user_id = @user_id AND namespace = @namespace;

-- name: GrantList :many
SELECT *
FROM sec_grant
WHERE user_id = @user_id
ORDER BY namespace;

-- name: GrantSet :one
INSERT INTO sec_grant (user_id, namespace, role)
VALUES (@user_id, @namespace, @role)
ON CONFLICT (user_id, namespace) DO UPDATE
SET role = excluded.role
RETURNING *;

-- name: SessionDelete :execrows
DELETE FROM sec_session
WHERE hash = @hash;

-- name: SessionDeleteExpired :execrows
DELETE FROM sec_session
WHERE expires_at <= @now
    OR last_seen_at < @idle_before;

-- name: SessionGet :one
SELECT *
FROM sec_session
WHERE hash = @hash;

-- name: SessionInsert :one
INSERT INTO sec_session (hash, user_id, csrf, created_at, last_seen_at, expires_at)
VALUES (
    @hash, @user_id, @csrf,
    @now,
    @now,
    @expires_at
)
RETURNING *;

-- name: SessionTouch :execrows
UPDATE sec_session
SET last_seen_at = @now
WHERE hash = @hash;

-- name: UserCount :one
SELECT count(*)
FROM sec_user;

-- name: UserGetByID :one
SELECT *
FROM sec_user
WHERE id = @id;

-- name: UserGetByName :one
SELECT *
FROM sec_user
WHERE name = @name;

-- name: UserInsert :one
INSERT INTO sec_user (id, name, password_hash, created_at, updated_at)
VALUES (
    @id, @name, @password_hash,
    @now,
    @now
)
RETURNING *;

-- name: UserList :many
SELECT *
FROM sec_user
ORDER BY name;

-- name: UserSetPassword :one
UPDATE sec_user
SET password_hash = @password_hash,
    updated_at = @now
WHERE id = @id
RETURNING *;
