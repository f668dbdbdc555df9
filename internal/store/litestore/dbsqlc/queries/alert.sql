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
VALUES (@id, @namespace, sqlc.narg('job_id'), @name, @events, @channel, @target, @secret, @enabled, @now, @now)
RETURNING *;

-- name: AlertRuleList :many
SELECT *
FROM sched_alert_rule
WHERE (CAST(@namespace AS TEXT) = '' OR namespace = @namespace)
ORDER BY created_at, id
LIMIT @max_rows;

-- name: AlertRuleUpdate :one
UPDATE sched_alert_rule
SET job_id = sqlc.narg('job_id'),
    name = @name,
    events = @events,
    channel = @channel,
    target = @target,
    secret = @secret,
    enabled = @enabled,
    updated_at = @now
WHERE id = @id
RETURNING *;

-- name: AlertDeliveryClaim :many
-- One server uses SQLite, and this runs under its write lock: no two
-- senders take the same row. The lease is as on PostgreSQL.
UPDATE sched_alert_delivery
SET attempts = attempts + 1,
    next_attempt_at = @lease_until
WHERE id IN (
    SELECT c.id
    FROM sched_alert_delivery AS c
    WHERE c.status = 'pending'
        AND c.next_attempt_at <= @now
    ORDER BY c.next_attempt_at
    LIMIT @max_rows
)
RETURNING *;

-- name: AlertDeliveryInsert :exec
INSERT INTO sched_alert_delivery (id, rule_id, event, status, payload, attempts, next_attempt_at, created_at)
VALUES (@id, @rule_id, @event, 'pending', @payload, 0, @now, @now);

-- name: AlertDeliveryList :many
SELECT *
FROM sched_alert_delivery
WHERE rule_id = @rule_id
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;

-- name: AlertDeliverySetResult :execrows
-- An empty LastError keeps the last one, so a delivery sent after a retry
-- still shows why the earlier attempt failed.
UPDATE sched_alert_delivery
SET status = @status,
    last_error = CASE WHEN @last_error = '' THEN last_error ELSE @last_error END,
    next_attempt_at = coalesce(sqlc.narg('next_attempt_at'), next_attempt_at),
    sent_at = CASE WHEN @status = 'sent' THEN @now END
WHERE id = @id
    AND status = 'pending';
