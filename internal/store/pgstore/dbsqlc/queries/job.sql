-- name: JobDelete :one
DELETE FROM sched_job
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]))
RETURNING *;

-- name: JobGetByID :one
SELECT *
FROM sched_job
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]));

-- name: JobInsert :one
INSERT INTO sched_job (
    id, namespace, name, description, status, config,
    created_at, created_by, updated_at, updated_by
) VALUES (
    @id, @namespace, @name, @description, @status, @config,
    coalesce(sqlc.narg('now')::timestamptz, now()), @created_by,
    coalesce(sqlc.narg('now')::timestamptz, now()), @created_by
)
RETURNING *;

-- name: JobUpdate :one
UPDATE sched_job
SET config = CASE WHEN @config_do_update::boolean THEN @config::jsonb ELSE config END,
    description = CASE WHEN @description_do_update::boolean THEN @description::text ELSE description END,
    name = CASE WHEN @name_do_update::boolean THEN @name::text ELSE name END,
    status = CASE WHEN @status_do_update::boolean THEN @status::int ELSE status END,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_by = @updated_by
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]))
RETURNING *;

-- name: JobLockMany :many
-- Row locks serialize dispatchers deciding about the same jobs' overlap and
-- concurrency; taken in id order so two claimers cannot deadlock.
SELECT id
FROM sched_job
WHERE id = any(@ids::uuid[])
ORDER BY id
FOR UPDATE;
