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

-- name: TaskLogDeleteMany :execrows
WITH chunks AS (
    DELETE FROM sched_task_log_chunk
    WHERE instance_id = any(@instance_ids::uuid[])
)
DELETE FROM sched_task_log
WHERE instance_id = any(@instance_ids::uuid[]);

-- name: TaskLogFinishMany :many
INSERT INTO sched_task_log AS l (instance_id, updated_at, finished_at)
SELECT ti.id, coalesce(sqlc.narg('now')::timestamptz, now()), coalesce(sqlc.narg('now')::timestamptz, now())
FROM sched_task_instance AS ti
WHERE ti.id = any(@instance_ids::uuid[])
ON CONFLICT (instance_id) DO UPDATE
SET finished_at = excluded.finished_at,
    updated_at = excluded.updated_at
WHERE l.finished_at IS NULL
RETURNING l.*;
