-- name: TaskLogGetByInstanceID :one
SELECT *
FROM sched_task_log
WHERE instance_id = @instance_id;

-- name: TaskLogUpsertMany :execrows
-- Records one instance's sizes; the driver runs it per item in one
-- transaction.
INSERT INTO sched_task_log (instance_id, stdout_bytes, stderr_bytes, updated_at)
VALUES (@instance_id, @stdout_bytes, @stderr_bytes, @now)
ON CONFLICT (instance_id) DO UPDATE
SET stdout_bytes = excluded.stdout_bytes,
    stderr_bytes = excluded.stderr_bytes,
    updated_at = excluded.updated_at;

-- name: TaskLogDeleteManyChunks :execrows
-- The first step of TaskLogDeleteMany.
DELETE FROM sched_task_log_chunk
WHERE instance_id IN (sqlc.slice('instance_ids'));

-- name: TaskLogDeleteMany :execrows
DELETE FROM sched_task_log
WHERE instance_id IN (sqlc.slice('instance_ids'));

-- name: TaskLogFinishMany :many
INSERT INTO sched_task_log (instance_id, updated_at, finished_at)
SELECT ti.id, CAST(@now AS INTEGER), CAST(@now AS INTEGER)
FROM sched_task_instance AS ti
WHERE ti.id IN (sqlc.slice('instance_ids'))
ON CONFLICT (instance_id) DO UPDATE
SET finished_at = excluded.finished_at,
    updated_at = excluded.updated_at
WHERE sched_task_log.finished_at IS NULL
RETURNING *;
