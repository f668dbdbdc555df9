-- name: AgentGetByID :one
SELECT *
FROM sched_agent
WHERE id = @id;

-- name: AgentHeartbeat :execrows
UPDATE sched_agent
SET last_heartbeat_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    load = @load,
    running = @running,
    clock_offset_ms = @clock_offset_ms,
    -- Online 100 and Draining 50 follow the agent; Offline stays until the
    -- agent says hello again.
    status = CASE WHEN status IN (100, 50) THEN @status ELSE status END,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = @id
    AND server_id = @server_id;

-- name: AgentListStale :many
-- Online 100 and Draining 50.
SELECT *
FROM sched_agent
WHERE status IN (100, 50)
    AND last_heartbeat_at < @heartbeat_before
ORDER BY last_heartbeat_at, id
LIMIT @max;

-- name: AgentSetStatusIf :execrows
UPDATE sched_agent
SET status = @status,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = @id
    AND (@server_id::text = '' OR server_id = @server_id::text)
    AND (sqlc.narg('heartbeat_before')::timestamptz IS NULL OR last_heartbeat_at < sqlc.narg('heartbeat_before')::timestamptz);

-- name: AgentUpsert :one
INSERT INTO sched_agent (
    id, name, labels, capacity, status, server_id, version, load, running,
    clock_offset_ms, info, last_heartbeat_at, connected_at, created_at, updated_at
) VALUES (
    @id, @name, @labels, @capacity, @status, @server_id, @version, 0, 0,
    @clock_offset_ms, @info,
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now())
)
ON CONFLICT (id) DO UPDATE
SET name = excluded.name,
    labels = excluded.labels,
    capacity = excluded.capacity,
    server_id = excluded.server_id,
    version = excluded.version,
    status = excluded.status,
    clock_offset_ms = excluded.clock_offset_ms,
    info = excluded.info,
    last_heartbeat_at = excluded.last_heartbeat_at,
    connected_at = excluded.connected_at,
    updated_at = excluded.updated_at
RETURNING *;
