-- name: TaskInstanceAckMany :execrows
-- Rows are found by id alone. The agent is compared with IS NOT DISTINCT
-- FROM and the status as status + 0, which no index serves: given
-- "agent_id =" or a bare status test, the planner may scan the live-by-agent
-- or the lease index too, and those partial indexes hold an entry for every
-- status change since the last vacuum (tens of thousands under load, all
-- read per statement; bench/results/2026-11-27-3.md). The same in the other
-- statements that apply agents' reports (TaskInstanceStartMany,
-- TaskInstanceFinishMany) and in TaskStartAttemptMany and TaskFinishMany.
WITH clock AS (SELECT coalesce(sqlc.narg('now')::timestamptz, now()) AS ts)
UPDATE sched_task_instance AS ti
SET status = 7,
    acked_at = clock.ts,
    lease_expires_at = greatest(ti.planned_at, clock.ts) + make_interval(secs => sqlc.arg('lease_grace_secs')::float8),
    updated_at = clock.ts
FROM clock
WHERE ti.id = any(@ids::uuid[])
    AND ti.agent_id IS NOT DISTINCT FROM @agent_id::text
    AND ti.status + 0 = 5;

-- name: TaskInstanceFinishMany :many
-- Zero times (0001-01-01) stand for NULL: FinishedAt defaults to now and
-- StartedAt keeps the stored value. ExitCodeValids says which exit codes are
-- set, since pgx arrays of int32 cannot hold NULL. Live statuses are
-- Dispatched 5, Acked 7 and Running 10; an empty agent id matches any agent.
-- An acked item records the ack too, when none was stored.
WITH input AS (
    SELECT
        unnest(@ids::uuid[]) AS id,
        unnest(@agent_ids::text[]) AS agent_id,
        unnest(@errors::text[]) AS error,
        unnest(@exit_codes::int[]) AS exit_code,
        unnest(@exit_code_valids::boolean[]) AS exit_code_valid,
        unnest(@finished_ats::timestamptz[]) AS finished_at,
        unnest(@started_ats::timestamptz[]) AS started_at,
        unnest(@statuses::int[]) AS status,
        unnest(@usages::jsonb[]) AS usage,
        unnest(@reasons::text[]) AS reason,
        unnest(@output_tails::text[]) AS output_tail,
        unnest(@ackeds::boolean[]) AS acked
)
UPDATE sched_task_instance AS ti
SET status = input.status,
    exit_code = CASE WHEN input.exit_code_valid THEN input.exit_code END,
    error = input.error,
    usage = input.usage,
    reason = input.reason,
    output_tail = input.output_tail,
    finished_at = coalesce(nullif(input.finished_at, '0001-01-01 00:00:00+00'), sqlc.narg('now')::timestamptz, now()),
    started_at = coalesce(ti.started_at, nullif(input.started_at, '0001-01-01 00:00:00+00')),
    acked_at = CASE WHEN input.acked THEN coalesce(ti.acked_at, sqlc.narg('now')::timestamptz, now()) ELSE ti.acked_at END,
    lease_expires_at = NULL,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM input
WHERE ti.id = input.id
    AND ti.status + 0 IN (5, 7, 10)
    AND (input.agent_id = '' OR ti.agent_id = input.agent_id)
RETURNING ti.*;

-- name: TaskInstanceGetByID :one
SELECT *
FROM sched_task_instance
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]));

-- name: TaskInstanceInsertMany :execrows
-- Zero times (0001-01-01) stand for NULL. With start_attempts, the
-- instances' tasks move to Doing with their attempt counted, as
-- TaskStartAttemptMany does (a task of several instances once).
WITH started AS (
    UPDATE sched_task
    SET status = 10,
        attempt = attempt + 1,
        updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
    WHERE @start_attempts::bool
        AND id = any(@task_ids::uuid[])
        -- status + 0: found by id only (see TaskInstanceAckMany).
        AND status + 0 IN (1, 20)
),
input AS (
    SELECT
        unnest(@ids::uuid[]) AS id,
        unnest(@agent_ids::text[]) AS agent_id,
        unnest(@attempts::int[]) AS attempt,
        unnest(@dispatched_ats::timestamptz[]) AS dispatched_at,
        unnest(@job_ids::uuid[]) AS job_id,
        unnest(@lease_expires_ats::timestamptz[]) AS lease_expires_at,
        unnest(@namespaces::text[]) AS namespace,
        unnest(@planned_ats::timestamptz[]) AS planned_at,
        unnest(@server_ids::text[]) AS server_id,
        unnest(@statuses::int[]) AS status,
        unnest(@task_ids::uuid[]) AS task_id,
        unnest(@placements::text[]) AS placement,
        unnest(@shard_indexes::int[]) AS shard_index,
        unnest(@shard_totals::int[]) AS shard_total
)
INSERT INTO sched_task_instance (
    id, task_id, job_id, namespace, attempt, agent_id, server_id, status,
    planned_at, lease_expires_at, dispatched_at, placement, shard_index,
    shard_total, created_at, updated_at
)
SELECT
    input.id,
    input.task_id,
    input.job_id,
    input.namespace,
    input.attempt,
    input.agent_id,
    input.server_id,
    input.status,
    input.planned_at,
    nullif(input.lease_expires_at, '0001-01-01 00:00:00+00'),
    nullif(input.dispatched_at, '0001-01-01 00:00:00+00'),
    input.placement,
    input.shard_index,
    input.shard_total,
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now())
FROM input;

-- name: TaskInstanceListLeaseExpired :many
SELECT *
FROM sched_task_instance
WHERE status IN (5, 7)
    AND lease_expires_at < coalesce(sqlc.narg('now')::timestamptz, now())
ORDER BY lease_expires_at, id
LIMIT @max;

-- name: TaskInstanceListLiveByAgent :many
SELECT *
FROM sched_task_instance
WHERE agent_id = @agent_id
    AND status IN (5, 7, 10)
ORDER BY created_at, id;

-- name: TaskInstanceStartMany :execrows
WITH input AS (
    SELECT
        unnest(@ids::uuid[]) AS id,
        unnest(@agent_ids::text[]) AS agent_id,
        unnest(@started_ats::timestamptz[]) AS started_at
)
UPDATE sched_task_instance AS ti
SET status = 10,
    started_at = input.started_at,
    -- A start acknowledges too, when no ack came before it.
    acked_at = coalesce(ti.acked_at, coalesce(sqlc.narg('now')::timestamptz, now())),
    lease_expires_at = NULL,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM input
WHERE ti.id = input.id
    AND ti.agent_id IS NOT DISTINCT FROM input.agent_id
    AND ti.status + 0 IN (5, 7);
