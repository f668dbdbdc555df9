-- name: JobDelete :one
DELETE FROM sched_job
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')))
RETURNING *;

-- name: JobGetByID :one
SELECT *
FROM sched_job
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')));

-- name: JobInsert :exec
-- The driver builds the inserted job from its input (no RETURNING, which
-- costs SQLite more than the insert).
INSERT INTO sched_job (
    id, namespace, name, description, status, config,
    created_at, created_by, updated_at, updated_by
) VALUES (
    @id, @namespace, @name, @description, @status, @config,
    @now, @created_by, @now, @created_by
);

-- name: JobUpdate :one
UPDATE sched_job
SET config = CASE WHEN CAST(@config_do_update AS BOOLEAN) THEN CAST(@config AS TEXT) ELSE config END,
    description = CASE WHEN CAST(@description_do_update AS BOOLEAN) THEN CAST(@description AS TEXT) ELSE description END,
    name = CASE WHEN CAST(@name_do_update AS BOOLEAN) THEN CAST(@name AS TEXT) ELSE name END,
    status = CASE WHEN CAST(@status_do_update AS BOOLEAN) THEN CAST(@status AS INTEGER) ELSE status END,
    updated_at = @now,
    updated_by = @updated_by
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')))
RETURNING *;
