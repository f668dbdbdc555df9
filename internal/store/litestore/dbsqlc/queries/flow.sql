-- name: FlowInsert :one
INSERT INTO sched_flow (id, namespace, name, description, status, spec, created_at, updated_at)
VALUES (@id, @namespace, @name, @description, @status, CAST(@spec AS TEXT), @now, @now)
RETURNING *;

-- name: FlowGetByID :one
SELECT *
FROM sched_flow
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')));

-- name: FlowUpdate :one
UPDATE sched_flow
SET name = CASE WHEN CAST(@name_do_update AS BOOLEAN) THEN CAST(@name AS TEXT) ELSE name END,
    description = CASE WHEN CAST(@description_do_update AS BOOLEAN) THEN CAST(@description AS TEXT) ELSE description END,
    status = CASE WHEN CAST(@status_do_update AS BOOLEAN) THEN CAST(@status AS INTEGER) ELSE status END,
    spec = CASE WHEN CAST(@spec_do_update AS BOOLEAN) THEN CAST(@spec AS TEXT) ELSE spec END,
    updated_at = @now
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')))
RETURNING *;

-- name: FlowDelete :one
DELETE FROM sched_flow
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')))
RETURNING *;

-- name: FlowRunInsert :one
INSERT INTO sched_flow_run (id, flow_id, namespace, status, spec, parameters, reason, created_at, updated_at)
VALUES (@id, @flow_id, @namespace, @status, CAST(@spec AS TEXT), CAST(@parameters AS TEXT), @reason, @now, @now)
RETURNING *;

-- name: FlowRunGetByID :one
SELECT *
FROM sched_flow_run
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')));

-- name: FlowRunFinishIf :execrows
UPDATE sched_flow_run
SET status = @status,
    reason = @reason,
    updated_at = @now,
    finished_at = @now
WHERE id = @id
    AND status = 10;
