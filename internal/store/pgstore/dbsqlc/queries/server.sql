-- name: ServerGetByID :one
SELECT *
FROM sched_server
WHERE id = @id;

-- name: ServerHeartbeat :execrows
UPDATE sched_server
SET last_heartbeat_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    status = 100
WHERE id = @id;

-- name: ServerUpsert :one
INSERT INTO sched_server (
    id, address, status, version, started_at, last_heartbeat_at, created_at
) VALUES (
    @id, @address, 100, @version,
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now())
)
ON CONFLICT (id) DO UPDATE
SET address = excluded.address,
    version = excluded.version,
    status = 100,
    started_at = excluded.started_at,
    last_heartbeat_at = excluded.last_heartbeat_at
RETURNING *;

-- name: ServerSetInactive :execrows
-- Marks servers inactive: one by id (a graceful stop), or every active one
-- whose heartbeat is older than heartbeat_before.
UPDATE sched_server
SET status = 99
WHERE status = 100
    AND (@id::text = '' OR id = @id::text)
    AND (sqlc.narg('heartbeat_before')::timestamptz IS NULL OR last_heartbeat_at < sqlc.narg('heartbeat_before')::timestamptz);
