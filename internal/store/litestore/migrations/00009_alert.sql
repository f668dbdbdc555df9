-- +goose Up
-- Alert rules and the outbox of deliveries (see the PostgreSQL migration).
-- SQLite serves one server, whose sender claims rows under the write lock.
CREATE TABLE sched_alert_rule (
    id         TEXT    PRIMARY KEY,
    namespace  TEXT    NOT NULL,
    job_id     TEXT    REFERENCES sched_job (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    events     TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    secret     TEXT    NOT NULL DEFAULT '',
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX sched_alert_rule_namespace_idx ON sched_alert_rule (namespace, created_at);

CREATE TABLE sched_alert_delivery (
    id              TEXT    PRIMARY KEY,
    rule_id         TEXT    NOT NULL REFERENCES sched_alert_rule (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);

CREATE INDEX sched_alert_delivery_due_idx ON sched_alert_delivery (next_attempt_at) WHERE status = 'pending';
CREATE INDEX sched_alert_delivery_rule_idx ON sched_alert_delivery (rule_id, created_at DESC);

-- +goose Down
DROP TABLE sched_alert_delivery;
DROP TABLE sched_alert_rule;
