-- name: TaskClaimDuePriorities :many
-- The priorities below @below that have claimable tasks, highest first.
-- TaskClaimDue claims each with TaskClaimDueAt. Every step of the walk is a
-- seek in sched_task_claim_idx (the highest priority below the last), so one
-- statement finds them all, usually one. One query over every priority
-- could not stop at the horizon (run_at is ordered only within a priority)
-- and read every planned task of the generator's window on each claim.
WITH RECURSIVE walk(priority) AS (
    SELECT (SELECT priority
            FROM sched_task
            WHERE status IN (1, 20)
                AND priority < CAST(@below AS INTEGER)
            ORDER BY priority DESC
            LIMIT 1)
    UNION ALL
    SELECT (SELECT t.priority
            FROM sched_task AS t
            WHERE t.status IN (1, 20)
                AND t.priority < walk.priority
            ORDER BY t.priority DESC
            LIMIT 1)
    FROM walk
    WHERE walk.priority IS NOT NULL
)
SELECT CAST(priority AS INTEGER) AS priority
FROM walk
WHERE priority IS NOT NULL;

-- name: TaskClaimDueAt :many
-- Claimable tasks of one priority due by @horizon, after a position. SQLite
-- has one writer, so a claim inside a transaction needs no row lock.
SELECT *
FROM sched_task
WHERE status IN (1, 20)
    AND priority = CAST(@priority AS INTEGER)
    AND run_at <= @horizon
    AND (run_at, id) > (CAST(@after_run_at AS INTEGER), CAST(@after_id AS TEXT))
ORDER BY run_at, id
LIMIT @max;

-- name: TaskFinishMany :execrows
-- Moves one task; the driver runs it per item in one transaction. Status 1
-- (Pending) is a requeue: the attempt number is given back.
UPDATE sched_task
SET status = CAST(@status AS INTEGER),
    -- A move without a reason keeps the task's (why it ran, or ran late).
    reason = CASE WHEN CAST(@reason AS TEXT) = '' THEN reason ELSE CAST(@reason AS TEXT) END,
    run_at = coalesce(CAST(sqlc.narg('run_at') AS INTEGER), run_at),
    attempt = CASE WHEN CAST(@status AS INTEGER) = 1 THEN attempt - 1 ELSE attempt END,
    updated_at = @now,
    finished_at = CAST(sqlc.narg('finished_at') AS INTEGER)
WHERE id = @id
    AND status = 10
    AND attempt = CAST(@attempt AS INTEGER);

-- name: TaskGetByID :one
SELECT *
FROM sched_task
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')));

-- name: TaskInsertMany :execrows
-- Inserts one task, or nothing when its fire is already planned; the driver
-- runs it per item in one transaction and builds the inserted task from its
-- input, which the generator's hot path would otherwise scan back column by
-- column and decode from JSON.
INSERT INTO sched_task (
    id, job_id, schedule_id, namespace, scheduled_at, run_at, priority,
    parameters, config, attempt, status, reason, created_at, updated_at, finished_at,
    event, flow_run_id, flow_node
) VALUES (
    @id, @job_id, sqlc.narg('schedule_id'), @namespace, @scheduled_at, @run_at, @priority,
    @parameters, @config, 0, @status, @reason, @now, @now, sqlc.narg('finished_at'),
    sqlc.narg('event'), sqlc.narg('flow_run_id'), @flow_node
)
-- A fire planned twice is skipped. A flow node inserted twice is an error
-- (sched_task_flow_node_key): its run's lock should have prevented it.
ON CONFLICT (schedule_id, scheduled_at) DO NOTHING;

-- name: TaskSetStateIf :one
UPDATE sched_task
SET status = @status,
    reason = @reason,
    updated_at = @now,
    finished_at = CAST(sqlc.narg('finished_at') AS INTEGER)
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')))
    AND status IN (sqlc.slice('from_statuses'))
RETURNING *;

-- name: TaskStartAttemptMany :execrows
UPDATE sched_task
SET status = 10,
    attempt = attempt + 1,
    updated_at = @now
WHERE status IN (1, 20)
    -- A JSON array of ids keeps the text fixed, so the statement is
    -- prepared once; a slice's placeholders would make one text per
    -- count, each parsed on every call.
    AND id IN (SELECT value FROM json_each(CAST(@ids AS TEXT)));

-- name: TaskDeletePending :execrows
DELETE FROM sched_task
WHERE status = 1
    AND attempt = 0
    AND schedule_id IS NOT NULL
    AND scheduled_at >= CAST(@scheduled_after AS INTEGER)
    AND (CAST(sqlc.narg('job_id') AS TEXT) IS NULL OR job_id = CAST(sqlc.narg('job_id') AS TEXT))
    AND (CAST(sqlc.narg('schedule_id') AS TEXT) IS NULL OR schedule_id = CAST(sqlc.narg('schedule_id') AS TEXT));

-- name: TaskDeleteMany :execrows
DELETE FROM sched_task
WHERE id IN (sqlc.slice('ids'));

-- name: TaskListByID :many
-- The ids come as one JSON array, so the text is fixed and prepared once.
SELECT *
FROM sched_task
WHERE id IN (SELECT value FROM json_each(CAST(@ids AS TEXT)));
