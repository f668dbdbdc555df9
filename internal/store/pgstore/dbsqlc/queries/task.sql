-- name: TaskClaimDuePriorities :many
-- The priorities below @below that have claimable tasks, highest first.
-- TaskClaimDue claims each with TaskClaimDueAt. Every step of the walk is an
-- index seek in sched_task_claim_idx (the highest priority below the last),
-- so one statement finds them all, usually one. One query over every
-- priority could not stop at the horizon (run_at is ordered only within a
-- priority) and read every planned task of the generator's window on each
-- claim.
WITH RECURSIVE walk(priority) AS (
    SELECT (SELECT priority
            FROM sched_task
            WHERE status IN (1, 20)
                AND priority < @below::int
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
SELECT priority::int AS priority
FROM walk
WHERE priority IS NOT NULL;

-- name: TaskClaimDueAt :many
-- Claimable tasks of one priority due by @horizon, after a position. FOR
-- UPDATE SKIP LOCKED: concurrent claimers in other transactions never see
-- the same task (DESIGN.md §5).
SELECT *
FROM sched_task
WHERE status IN (1, 20)
    AND priority = @priority::int
    AND run_at <= @horizon
    AND (run_at, id) > (@after_run_at::timestamptz, @after_id::uuid)
ORDER BY run_at, id
LIMIT @max
FOR UPDATE SKIP LOCKED;

-- name: TaskFinishMany :execrows
-- A zero RunAt (0001-01-01) keeps the task's run_at. Status 1 (Pending) is a
-- requeue: the attempt number is given back. 90 and above are final.
WITH input AS (
    SELECT
        unnest(@ids::uuid[]) AS id,
        unnest(@attempts::int[]) AS attempt,
        unnest(@reasons::text[]) AS reason,
        unnest(@run_ats::timestamptz[]) AS run_at,
        unnest(@statuses::int[]) AS status
)
UPDATE sched_task AS t
SET status = input.status,
    -- A move without a reason keeps the task's (why it ran, or ran late).
    reason = CASE WHEN input.reason = '' THEN t.reason ELSE input.reason END,
    run_at = coalesce(nullif(input.run_at, '0001-01-01 00:00:00+00'), t.run_at),
    attempt = CASE WHEN input.status = 1 THEN t.attempt - 1 ELSE t.attempt END,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    finished_at = CASE WHEN input.status >= 90 THEN coalesce(sqlc.narg('now')::timestamptz, now()) END
FROM input
WHERE t.id = input.id
    -- status + 0: found by id only (see TaskInstanceAckMany).
    AND t.status + 0 = 10
    AND t.attempt = input.attempt;

-- name: TaskGetByID :one
SELECT *
FROM sched_task
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]));

-- name: TaskInsertMany :many
-- A nil schedule or flow run id (all zeros) stands for NULL: a manual or
-- event task, which never conflicts.
WITH input AS (
    SELECT
        unnest(@ids::uuid[]) AS id,
        unnest(@configs::jsonb[]) AS config,
        unnest(@job_ids::uuid[]) AS job_id,
        unnest(@namespaces::text[]) AS namespace,
        unnest(@parameters::jsonb[]) AS parameters,
        unnest(@priorities::int[]) AS priority,
        unnest(@reasons::text[]) AS reason,
        unnest(@run_ats::timestamptz[]) AS run_at,
        unnest(@schedule_ids::uuid[]) AS schedule_id,
        unnest(@scheduled_ats::timestamptz[]) AS scheduled_at,
        unnest(@statuses::int[]) AS status,
        unnest(@events::bytea[]) AS event,
        unnest(@flow_run_ids::uuid[]) AS flow_run_id,
        unnest(@flow_nodes::text[]) AS flow_node
)
INSERT INTO sched_task (
    id, job_id, schedule_id, namespace, scheduled_at, run_at, priority,
    parameters, config, attempt, status, reason, created_at, updated_at, finished_at,
    event, flow_run_id, flow_node
)
SELECT
    input.id,
    input.job_id,
    nullif(input.schedule_id, '00000000-0000-0000-0000-000000000000'),
    input.namespace,
    input.scheduled_at,
    input.run_at,
    input.priority,
    input.parameters,
    input.config,
    0,
    input.status,
    input.reason,
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now()),
    CASE WHEN input.status >= 90 THEN coalesce(sqlc.narg('now')::timestamptz, now()) END,
    input.event,
    nullif(input.flow_run_id, '00000000-0000-0000-0000-000000000000'),
    input.flow_node
FROM input
-- A fire planned twice is skipped. A flow node inserted twice is an error
-- (sched_task_flow_node_key): its run's lock should have prevented it.
ON CONFLICT (schedule_id, scheduled_at) DO NOTHING
RETURNING *;

-- name: TaskSetStateIf :one
-- Final statuses (90 and above) set finished_at; others clear it.
UPDATE sched_task
SET status = @status,
    reason = @reason,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    finished_at = CASE WHEN @status::int >= 90 THEN coalesce(sqlc.narg('now')::timestamptz, now()) END
WHERE id = @id
    AND status = any(@from_statuses::int[])
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]))
RETURNING *;

-- name: TaskStartAttemptMany :execrows
UPDATE sched_task
SET status = 10,
    attempt = attempt + 1,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = any(@ids::uuid[])
    -- status + 0: found by id only (see TaskInstanceAckMany).
    AND status + 0 IN (1, 20);

-- name: TaskDeletePending :execrows
DELETE FROM sched_task
WHERE status = 1
    AND attempt = 0
    AND schedule_id IS NOT NULL
    AND scheduled_at >= @scheduled_after::timestamptz
    AND (sqlc.narg('job_id')::uuid IS NULL OR job_id = sqlc.narg('job_id')::uuid)
    AND (sqlc.narg('schedule_id')::uuid IS NULL OR schedule_id = sqlc.narg('schedule_id')::uuid);

-- name: TaskDeleteMany :execrows
DELETE FROM sched_task
WHERE id = any(@ids::uuid[]);

-- name: TaskListByID :many
SELECT *
FROM sched_task
WHERE id = any(@ids::uuid[]);
