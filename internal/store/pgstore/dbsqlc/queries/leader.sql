-- name: LeaderAcquire :one
-- Takes the lease if nobody holds it or it expired, raising the epoch.
-- Returns no row when someone else holds a live lease.
INSERT INTO sched_leader (name, holder, epoch, expires_at, updated_at)
VALUES (@name, @holder, 1, coalesce(sqlc.narg('now')::timestamptz, now()) + make_interval(secs => @ttl_secs::float8), coalesce(sqlc.narg('now')::timestamptz, now()))
ON CONFLICT (name) DO UPDATE
SET holder = excluded.holder,
    epoch = sched_leader.epoch + 1,
    expires_at = excluded.expires_at,
    updated_at = excluded.updated_at
-- excluded.updated_at is the clock of this statement.
WHERE sched_leader.expires_at <= excluded.updated_at
RETURNING *;

-- name: LeaderRenew :one
-- Extends a live lease still held at this epoch. No row means it was lost.
UPDATE sched_leader
SET expires_at = coalesce(sqlc.narg('now')::timestamptz, now()) + make_interval(secs => @ttl_secs::float8),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE name = @name
    AND holder = @holder
    AND epoch = @epoch
    AND expires_at > coalesce(sqlc.narg('now')::timestamptz, now())
RETURNING *;

-- name: LeaderRelease :execrows
-- Gives the lease up at once, so another server can take it.
UPDATE sched_leader
SET expires_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE name = @name
    AND holder = @holder
    AND epoch = @epoch;

-- name: LeaderFence :one
-- Checks inside a leader's transaction that it still holds the lease, and
-- keeps the row share-locked until the transaction ends, so the lease cannot
-- change hands under the transaction's writes.
SELECT epoch
FROM sched_leader
WHERE name = @name
    AND holder = @holder
    AND epoch = @epoch
    AND expires_at > coalesce(sqlc.narg('now')::timestamptz, now())
FOR SHARE;

-- name: LeaderGet :one
SELECT *
FROM sched_leader
WHERE name = @name;
