-- name: ServerGetByID :one
SELECT *
FROM sched_server
WHERE id = @id;

-- name: ServerHeartbeat :execrows
UPDATE sched_server
SET last_heartbeat_at = @now,
    status = 100
WHERE id = @id;

-- name: ServerUpsert :one
INSERT INTO sched_server (
    id, address, status, version, started_at, last_heartbeat_at, created_at
) VALUES (
    @id, @address, 100, @version, @now, @now, @now
)
ON CONFLICT (id) DO UPDATE
SET address = excluded.address,
    version = excluded.version,
    status = 100,
    started_at = excluded.started_at,
    last_heartbeat_at = excluded.last_heartbeat_at
RETURNING *;

-- name: ServerSetInactive :execrows
UPDATE sched_server
SET status = 99
WHERE status = 100
    AND (CAST(@id AS TEXT) = '' OR id = CAST(@id AS TEXT))
    AND (CAST(sqlc.narg('heartbeat_before') AS INTEGER) IS NULL OR last_heartbeat_at < CAST(sqlc.narg('heartbeat_before') AS INTEGER));
