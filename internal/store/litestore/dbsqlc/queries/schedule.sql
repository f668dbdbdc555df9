-- name: ScheduleAdvanceCursorMany :execrows
-- Moves one schedule's cursor; the driver runs it per item in one
-- transaction, then reads the moved ones back with ScheduleListByID
-- (cheaper than RETURNING per row). A zero status leaves the status
-- unchanged.
UPDATE sched_schedule
SET next_fire_at = CAST(sqlc.narg('next_fire_at') AS INTEGER),
    fired_count = fired_count + CAST(@fired_count_delta AS INTEGER),
    status = CASE WHEN CAST(@status AS INTEGER) = 0 THEN status ELSE CAST(@status AS INTEGER) END,
    last_error = '',
    revision = revision + 1,
    updated_at = @now
WHERE id = @id
    AND revision = @expect_revision;

-- name: ScheduleListByID :many
-- The ids come as one JSON array, so the text is fixed and prepared once.
SELECT *
FROM sched_schedule
WHERE id IN (SELECT value FROM json_each(CAST(@ids AS TEXT)));

-- name: ScheduleDelete :one
DELETE FROM sched_schedule
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')))
RETURNING *;

-- name: ScheduleGetByID :one
SELECT *
FROM sched_schedule
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')));

-- name: ScheduleInsert :exec
-- The driver builds the inserted schedule from its input (no RETURNING,
-- which costs SQLite more than the insert).
INSERT INTO sched_schedule (
    id, job_id, namespace, name, kind, cron, time_zone, interval_ms,
    start_time, end_time, max_count, status, next_fire_at,
    fired_count, last_error, revision, created_at, updated_at, options, spec_changed_at
) VALUES (
    @id, @job_id, @namespace, @name, @kind, @cron, @time_zone, @interval_ms,
    sqlc.narg('start_time'), sqlc.narg('end_time'), @max_count, @status, sqlc.narg('next_fire_at'),
    0, '', 1, @now, @now, CAST(@options AS TEXT), @now
);

-- name: ScheduleListDue :many
SELECT s.*
FROM sched_schedule AS s
    JOIN sched_job AS j ON j.id = s.job_id
WHERE s.status = 100
    AND j.status = 100
    AND s.next_fire_at IS NOT NULL
    AND s.next_fire_at <= CAST(@horizon AS INTEGER)
    AND s.last_error = ''
ORDER BY s.next_fire_at, s.id
LIMIT @max;

-- name: ScheduleSetErrorIf :execrows
UPDATE sched_schedule
SET last_error = @last_error,
    updated_at = @now
WHERE id = @id
    AND revision = @expect_revision;

-- name: ScheduleUpdate :one
UPDATE sched_schedule
SET cron = CASE WHEN CAST(@cron_do_update AS BOOLEAN) THEN CAST(@cron AS TEXT) ELSE cron END,
    end_time = CASE WHEN CAST(@end_time_do_update AS BOOLEAN) THEN CAST(sqlc.narg('end_time') AS INTEGER) ELSE end_time END,
    interval_ms = CASE WHEN CAST(@interval_ms_do_update AS BOOLEAN) THEN CAST(@interval_ms AS INTEGER) ELSE interval_ms END,
    max_count = CASE WHEN CAST(@max_count_do_update AS BOOLEAN) THEN CAST(@max_count AS INTEGER) ELSE max_count END,
    name = CASE WHEN CAST(@name_do_update AS BOOLEAN) THEN CAST(@name AS TEXT) ELSE name END,
    next_fire_at = CASE WHEN CAST(@next_fire_at_do_update AS BOOLEAN) THEN CAST(sqlc.narg('next_fire_at') AS INTEGER) ELSE next_fire_at END,
    start_time = CASE WHEN CAST(@start_time_do_update AS BOOLEAN) THEN CAST(sqlc.narg('start_time') AS INTEGER) ELSE start_time END,
    status = CASE WHEN CAST(@status_do_update AS BOOLEAN) THEN CAST(@status AS INTEGER) ELSE status END,
    time_zone = CASE WHEN CAST(@time_zone_do_update AS BOOLEAN) THEN CAST(@time_zone AS TEXT) ELSE time_zone END,
    options = CASE WHEN CAST(@options_do_update AS BOOLEAN) THEN CAST(@options AS TEXT) ELSE options END,
    spec_changed_at = CASE WHEN CAST(@spec_changed AS BOOLEAN) THEN @now ELSE spec_changed_at END,
    last_error = '',
    revision = revision + 1,
    updated_at = @now
WHERE id = @id
    AND (CAST(@any_namespace AS BOOLEAN) OR namespace IN (sqlc.slice('namespaces')))
RETURNING *;

-- name: ScheduleListParked :many
-- Enabled (100) interval (2) and daemon (5) schedules among the ids whose
-- cursor is parked: one-at-a-time schedules wait, with no next fire, for
-- their run to end. The ids come as one JSON array (fixed text).
SELECT *
FROM sched_schedule
WHERE id IN (SELECT value FROM json_each(CAST(@ids AS TEXT)))
    AND kind IN (2, 5)
    AND status = 100
    AND next_fire_at IS NULL;
