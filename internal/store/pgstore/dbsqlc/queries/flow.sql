-- name: FlowInsert :one
INSERT INTO sched_flow (id, namespace, name, description, status, spec, created_at, updated_at)
VALUES (
    @id, @namespace, @name, @description, @status, @spec::jsonb,
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now())
)
RETURNING *;

-- name: FlowGetByID :one
SELECT *
FROM sched_flow
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]));

-- name: FlowUpdate :one
WITH clock AS (SELECT coalesce(sqlc.narg('now')::timestamptz, now()) AS ts)
UPDATE sched_flow AS f
SET name = CASE WHEN @name_do_update::boolean THEN @name::text ELSE f.name END,
    description = CASE WHEN @description_do_update::boolean THEN @description::text ELSE f.description END,
    status = CASE WHEN @status_do_update::boolean THEN @status::int ELSE f.status END,
    spec = CASE WHEN @spec_do_update::boolean THEN @spec::jsonb ELSE f.spec END,
    updated_at = clock.ts
FROM clock
WHERE f.id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR f.namespace = any(sqlc.narg('namespaces')::text[]))
RETURNING f.*;

-- name: FlowDelete :one
DELETE FROM sched_flow
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]))
RETURNING *;

-- name: FlowRunInsert :one
INSERT INTO sched_flow_run (id, flow_id, namespace, status, spec, parameters, reason, created_at, updated_at)
VALUES (
    @id, @flow_id, @namespace, @status, @spec::jsonb, @parameters::jsonb, @reason,
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now())
)
RETURNING *;

-- name: FlowRunGetByID :one
SELECT *
FROM sched_flow_run
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]));

-- name: FlowRunLock :one
-- Serializes the node decisions of one flow run: two upstream nodes that
-- finish at once see each other's outcome.
SELECT *
FROM sched_flow_run
WHERE id = @id
FOR UPDATE;

-- name: FlowRunFinishIf :execrows
WITH clock AS (SELECT coalesce(sqlc.narg('now')::timestamptz, now()) AS ts)
UPDATE sched_flow_run AS r
SET status = @status,
    reason = @reason,
    updated_at = clock.ts,
    finished_at = clock.ts
FROM clock
WHERE r.id = @id
    AND r.status = 10;
