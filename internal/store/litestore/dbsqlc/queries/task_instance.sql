-- name: TaskInstanceAckMany :execrows
UPDATE sched_task_instance
SET status = 7,
    acked_at = CAST(@now AS INTEGER),
    lease_expires_at = max(planned_at, CAST(@now AS INTEGER)) + CAST(@lease_grace_us AS INTEGER),
    updated_at = @now
-- The unary + keeps SQLite from searching by agent_id: with one busy
-- agent, its index holds nearly every instance ever run, and the search
-- read them all per statement (bench/results/2026-11-27-3.md). Rows are
-- found by id, from a JSON array (fixed text, prepared once; see
-- TaskStartAttemptMany).
WHERE +agent_id = @agent_id
    AND status = 5
    AND id IN (SELECT value FROM json_each(CAST(@ids AS TEXT)));

-- name: TaskInstanceFinishMany :execrows
-- Ends one live instance (Dispatched 5, Acked 7, Running 10); the driver
-- runs it per item in one transaction, then reads the ended ones back with
-- TaskInstanceListByID (cheaper than RETURNING per row). An empty agent id
-- matches any agent. An acked item records the ack too, when none was
-- stored.
UPDATE sched_task_instance
SET status = @status,
    exit_code = CAST(sqlc.narg('exit_code') AS INTEGER),
    error = @error,
    usage = CAST(sqlc.narg('usage') AS TEXT),
    reason = CAST(@reason AS TEXT),
    output_tail = CAST(@output_tail AS TEXT),
    finished_at = CAST(@finished_at AS INTEGER),
    started_at = coalesce(started_at, CAST(sqlc.narg('started_at') AS INTEGER)),
    acked_at = CASE WHEN CAST(@acked AS BOOLEAN) THEN coalesce(acked_at, @now) ELSE acked_at END,
    lease_expires_at = NULL,
    updated_at = @now
WHERE id = @id
    AND status IN (5, 7, 10)
    AND (CAST(@agent_id AS TEXT) = '' OR agent_id = CAST(@agent_id AS TEXT));

-- name: TaskInstanceListByID :many
-- The ids come as one JSON array, so the text is fixed and prepared once.
SELECT *
FROM sched_task_instance
WHERE id IN (SELECT value FROM json_each(CAST(@ids AS TEXT)));

-- name: TaskInstanceGetByID :one
SELECT *
FROM sched_task_instance
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')));

-- name: TaskInstanceInsertMany :execrows
-- Inserts one instance; the driver runs it per item in one transaction.
INSERT INTO sched_task_instance (
    id, task_id, job_id, namespace, attempt, agent_id, server_id, status,
    planned_at, lease_expires_at, dispatched_at, placement, shard_index,
    shard_total, created_at, updated_at
) VALUES (
    @id, @task_id, @job_id, @namespace, @attempt, @agent_id, @server_id, @status,
    @planned_at, sqlc.narg('lease_expires_at'), sqlc.narg('dispatched_at'),
    @placement, @shard_index, @shard_total, @now, @now
);

-- name: TaskInstanceListLeaseExpired :many
SELECT *
FROM sched_task_instance
WHERE status IN (5, 7)
    AND lease_expires_at < CAST(@now AS INTEGER)
ORDER BY lease_expires_at, id
LIMIT @max;

-- name: TaskInstanceListLiveByAgent :many
SELECT *
FROM sched_task_instance
WHERE agent_id = @agent_id
    AND status IN (5, 7, 10)
ORDER BY created_at, id;

-- name: TaskInstanceStartMany :execrows
-- Starts one instance; the driver runs it per item in one transaction.
UPDATE sched_task_instance
SET status = 10,
    started_at = CAST(@started_at AS INTEGER),
    -- A start acknowledges too, when no ack came before it.
    acked_at = coalesce(acked_at, @now),
    lease_expires_at = NULL,
    updated_at = @now
WHERE id = @id
    AND agent_id = @agent_id
    AND status IN (5, 7);
