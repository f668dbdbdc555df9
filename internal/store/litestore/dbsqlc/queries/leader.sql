-- name: LeaderAcquire :one
-- Takes the lease if nobody holds it or it expired, raising the epoch.
INSERT INTO sched_leader (name, holder, epoch, expires_at, updated_at)
VALUES (@name, @holder, 1, @expires_at, @now)
ON CONFLICT (name) DO UPDATE
SET holder = excluded.holder,
    epoch = sched_leader.epoch + 1,
    expires_at = excluded.expires_at,
    updated_at = excluded.updated_at
WHERE sched_leader.expires_at <= excluded.updated_at
RETURNING *;

-- name: LeaderRenew :one
UPDATE sched_leader
SET expires_at = @expires_at,
    updated_at = @now
WHERE name = @name
    AND holder = @holder
    AND epoch = @epoch
    AND expires_at > @now
RETURNING *;

-- name: LeaderRelease :execrows
UPDATE sched_leader
SET expires_at = @now,
    updated_at = @now
WHERE name = @name
    AND holder = @holder
    AND epoch = @epoch;

-- name: LeaderFence :one
-- SQLite has one writer: a write transaction that sees the lease sees it
-- until it commits.
SELECT epoch
FROM sched_leader
WHERE name = @name
    AND holder = @holder
    AND epoch = @epoch
    AND expires_at > @now;

-- name: LeaderGet :one
SELECT *
FROM sched_leader
WHERE name = @name;
