-- name: APITokenCount :one
SELECT count(*)
FROM sched_api_token
WHERE kind = @kind;

-- name: APITokenGetByHash :one
SELECT *
FROM sched_api_token
WHERE hash = @hash;

-- name: APITokenInsert :one
INSERT INTO sched_api_token (id, name, kind, hash, expires_at, created_at)
VALUES (@id, @name, @kind, @hash, sqlc.narg('expires_at'), @now)
RETURNING *;
