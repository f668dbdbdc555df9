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
