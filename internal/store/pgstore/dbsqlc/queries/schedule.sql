-- name: ScheduleAdvanceCursorMany :many
-- A zero NextFireAt (0001-01-01) stands for NULL, since pgx arrays of
-- time.Time cannot hold NULL; a zero status leaves the status unchanged.
WITH input AS (
    SELECT
        unnest(@ids::uuid[]) AS id,
        unnest(@expect_revisions::bigint[]) AS expect_revision,
        unnest(@fired_count_deltas::bigint[]) AS fired_count_delta,
        unnest(@next_fire_ats::timestamptz[]) AS next_fire_at,
        unnest(@statuses::int[]) AS status
)
UPDATE sched_schedule AS s
SET next_fire_at = nullif(input.next_fire_at, '0001-01-01 00:00:00+00'),
    fired_count = s.fired_count + input.fired_count_delta,
    status = CASE WHEN input.status = 0 THEN s.status ELSE input.status END,
    last_error = '',
    revision = s.revision + 1,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM input
WHERE s.id = input.id
    AND s.revision = input.expect_revision
RETURNING s.*;

-- name: ScheduleDelete :one
DELETE FROM sched_schedule
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]))
RETURNING *;

-- name: ScheduleGetByID :one
SELECT *
FROM sched_schedule
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]));

-- name: ScheduleInsert :one
INSERT INTO sched_schedule (
    id, job_id, namespace, name, kind, cron, time_zone, interval_ms,
    start_time, end_time, max_count, status, next_fire_at,
    fired_count, last_error, revision, created_at, updated_at, options, spec_changed_at
) VALUES (
    @id, @job_id, @namespace, @name, @kind, @cron, @time_zone, @interval_ms,
    sqlc.narg('start_time'), sqlc.narg('end_time'), @max_count, @status, sqlc.narg('next_fire_at'),
    0, '', 1,
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now()),
    @options::jsonb,
    coalesce(sqlc.narg('now')::timestamptz, now())
)
RETURNING *;

-- name: ScheduleListDue :many
SELECT s.*
FROM sched_schedule AS s
    JOIN sched_job AS j ON j.id = s.job_id
WHERE s.status = 100
    AND j.status = 100
    AND s.next_fire_at IS NOT NULL
    AND s.next_fire_at <= @horizon::timestamptz
    AND s.last_error = ''
ORDER BY s.next_fire_at, s.id
LIMIT @max;

-- name: ScheduleSetErrorIf :execrows
UPDATE sched_schedule
SET last_error = @last_error,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = @id
    AND revision = @expect_revision;

-- name: ScheduleUpdate :one
UPDATE sched_schedule
SET cron = CASE WHEN @cron_do_update::boolean THEN @cron::text ELSE cron END,
    end_time = CASE WHEN @end_time_do_update::boolean THEN sqlc.narg('end_time')::timestamptz ELSE end_time END,
    interval_ms = CASE WHEN @interval_ms_do_update::boolean THEN @interval_ms::bigint ELSE interval_ms END,
    max_count = CASE WHEN @max_count_do_update::boolean THEN @max_count::bigint ELSE max_count END,
    name = CASE WHEN @name_do_update::boolean THEN @name::text ELSE name END,
    next_fire_at = CASE WHEN @next_fire_at_do_update::boolean THEN sqlc.narg('next_fire_at')::timestamptz ELSE next_fire_at END,
    start_time = CASE WHEN @start_time_do_update::boolean THEN sqlc.narg('start_time')::timestamptz ELSE start_time END,
    status = CASE WHEN @status_do_update::boolean THEN @status::int ELSE status END,
    time_zone = CASE WHEN @time_zone_do_update::boolean THEN @time_zone::text ELSE time_zone END,
    options = CASE WHEN @options_do_update::boolean THEN @options::jsonb ELSE options END,
    spec_changed_at = CASE WHEN @spec_changed::boolean THEN coalesce(sqlc.narg('now')::timestamptz, now()) ELSE spec_changed_at END,
    last_error = '',
    revision = revision + 1,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = @id
    AND (sqlc.narg('namespaces')::text[] IS NULL OR namespace = any(sqlc.narg('namespaces')::text[]))
RETURNING *;

-- name: ScheduleListParked :many
-- Enabled (100) interval (2) and daemon (5) schedules among the ids whose
-- cursor is parked: one-at-a-time schedules wait, with no next fire, for
-- their run to end.
SELECT *
FROM sched_schedule
WHERE id = any(@ids::uuid[])
    AND kind IN (2, 5)
    AND status = 100
    AND next_fire_at IS NULL;
