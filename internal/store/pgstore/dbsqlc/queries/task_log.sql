-- name: TaskLogGetByInstanceID :one
SELECT *
FROM sched_task_log
WHERE instance_id = @instance_id;

-- name: TaskLogUpsertMany :execrows
-- The caller removes duplicate instance ids: one statement cannot update a
-- row twice.
INSERT INTO sched_task_log (instance_id, stdout_bytes, stderr_bytes, updated_at)
SELECT
    unnest(@instance_ids::uuid[]),
    unnest(@stdout_bytes::bigint[]),
    unnest(@stderr_bytes::bigint[]),
    coalesce(sqlc.narg('now')::timestamptz, now())
ON CONFLICT (instance_id) DO UPDATE
SET stdout_bytes = excluded.stdout_bytes,
    stderr_bytes = excluded.stderr_bytes,
    updated_at = excluded.updated_at;
