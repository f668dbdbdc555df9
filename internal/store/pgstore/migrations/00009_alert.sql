-- +goose Up
-- Alert rules (per namespace, or per job) and the outbox of deliveries:
-- rows are decided where results are applied and claimed by any server's
-- sender with FOR UPDATE SKIP LOCKED, so each alert is sent by one server.
CREATE TABLE sched_alert_rule (
    id         uuid        PRIMARY KEY,
    namespace  text        NOT NULL,
    job_id     uuid        REFERENCES sched_job (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    events     text        NOT NULL,
    channel    text        NOT NULL,
    target     text        NOT NULL,
    secret     text        NOT NULL DEFAULT '',
    enabled    boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX sched_alert_rule_namespace_idx ON sched_alert_rule (namespace, created_at);

CREATE TABLE sched_alert_delivery (
    id              uuid        PRIMARY KEY,
    rule_id         uuid        NOT NULL REFERENCES sched_alert_rule (id) ON DELETE CASCADE,
    event           text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    payload         jsonb       NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz
);

CREATE INDEX sched_alert_delivery_due_idx ON sched_alert_delivery (next_attempt_at) WHERE status = 'pending';
CREATE INDEX sched_alert_delivery_rule_idx ON sched_alert_delivery (rule_id, created_at DESC);

-- +goose Down
DROP TABLE sched_alert_delivery;
DROP TABLE sched_alert_rule;
