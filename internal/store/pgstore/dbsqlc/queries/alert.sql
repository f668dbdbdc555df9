-- name: AlertRuleDelete :one
DELETE FROM sched_alert_rule
WHERE id = @id
RETURNING *;

-- name: AlertRuleGetByID :one
SELECT *
FROM sched_alert_rule
WHERE id = @id;

-- name: AlertRuleInsert :one
INSERT INTO sched_alert_rule (id, namespace, job_id, name, events, channel, target, secret, enabled, created_at, updated_at)
VALUES (
    @id, @namespace, sqlc.narg('job_id'), @name, @events, @channel, @target, @secret, @enabled,
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now())
)
RETURNING *;

-- name: AlertRuleList :many
SELECT *
FROM sched_alert_rule
WHERE (@namespace::text = '' OR namespace = @namespace::text)
ORDER BY created_at, id
LIMIT @max_rows::int;

-- name: AlertRuleUpdate :one
UPDATE sched_alert_rule
SET job_id = sqlc.narg('job_id'),
    name = @name,
    events = @events,
    channel = @channel,
    target = @target,
    secret = @secret,
    enabled = @enabled,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = @id
RETURNING *;

-- name: AlertDeliveryClaim :many
-- Each server's sender claims due rows; SKIP LOCKED keeps two from taking
-- the same one, and the lease (next_attempt_at moved ahead) hands a row to
-- another sender if this one dies before recording the result.
UPDATE sched_alert_delivery AS d
SET attempts = d.attempts + 1,
    next_attempt_at = coalesce(sqlc.narg('now')::timestamptz, now()) + make_interval(secs => @lease_seconds::float8)
WHERE d.id IN (
    SELECT c.id
    FROM sched_alert_delivery AS c
    WHERE c.status = 'pending'
        AND c.next_attempt_at <= coalesce(sqlc.narg('now')::timestamptz, now())
    ORDER BY c.next_attempt_at
    LIMIT @max_rows::int
    FOR UPDATE SKIP LOCKED
)
RETURNING d.*;

-- name: AlertDeliveryInsertMany :execrows
INSERT INTO sched_alert_delivery (id, rule_id, event, status, payload, attempts, next_attempt_at, created_at)
SELECT
    unnest(@ids::uuid[]),
    unnest(@rule_ids::uuid[]),
    unnest(@events::text[]),
    'pending',
    unnest(@payloads::jsonb[]),
    0,
    coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now());

-- name: AlertDeliveryList :many
SELECT *
FROM sched_alert_delivery
WHERE rule_id = @rule_id
ORDER BY created_at DESC, id DESC
LIMIT @max_rows::int;

-- name: AlertDeliverySetResult :execrows
-- An empty LastError keeps the last one, so a delivery sent after a retry
-- still shows why the earlier attempt failed.
UPDATE sched_alert_delivery
SET status = @status,
    last_error = CASE WHEN @last_error = '' THEN last_error ELSE @last_error END,
    next_attempt_at = coalesce(sqlc.narg('next_attempt_at')::timestamptz, next_attempt_at),
    sent_at = CASE WHEN @status = 'sent' THEN coalesce(sqlc.narg('now')::timestamptz, now()) END
WHERE id = @id
    AND status = 'pending';
