-- +goose Up
CREATE TABLE sched_job (
    id          uuid        PRIMARY KEY,
    namespace   text        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    status      int         NOT NULL,
    config      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL,
    updated_by  text        NOT NULL DEFAULT '',
    CONSTRAINT sched_job_namespace_name_key UNIQUE (namespace, name)
);

CREATE TABLE sched_schedule (
    id           uuid        PRIMARY KEY,
    job_id       uuid        NOT NULL REFERENCES sched_job (id) ON DELETE CASCADE,
    namespace    text        NOT NULL,
    name         text        NOT NULL DEFAULT '',
    kind         int         NOT NULL,
    cron         text        NOT NULL DEFAULT '',
    time_zone    text        NOT NULL DEFAULT '',
    interval_ms  bigint      NOT NULL DEFAULT 0,
    start_time   timestamptz,
    end_time     timestamptz,
    max_count    bigint      NOT NULL DEFAULT 0,
    status       int         NOT NULL,
    next_fire_at timestamptz,
    fired_count  bigint      NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT '',
    revision     bigint      NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- ScheduleListDue.
CREATE INDEX sched_schedule_due_idx ON sched_schedule (next_fire_at) WHERE status = 100;
CREATE INDEX sched_schedule_job_id_idx ON sched_schedule (job_id);

-- schedule_id has no foreign key: tasks outlive a deleted schedule.
CREATE TABLE sched_task (
    id           uuid        PRIMARY KEY,
    job_id       uuid        NOT NULL REFERENCES sched_job (id) ON DELETE CASCADE,
    schedule_id  uuid,
    namespace    text        NOT NULL,
    scheduled_at timestamptz NOT NULL,
    run_at       timestamptz NOT NULL,
    priority     int         NOT NULL DEFAULT 0,
    parameters   jsonb       NOT NULL,
    config       jsonb       NOT NULL,
    attempt      int         NOT NULL DEFAULT 0,
    status       int         NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    -- Exactly one task per planned fire (DESIGN.md §2.1).
    CONSTRAINT sched_task_schedule_fire_key UNIQUE (schedule_id, scheduled_at)
);

-- TaskClaimDue: Pending and WaitingRetry tasks in claim order.
CREATE INDEX sched_task_claim_idx ON sched_task (priority DESC, run_at, id) WHERE status IN (1, 20);
CREATE INDEX sched_task_job_id_scheduled_at_idx ON sched_task (job_id, scheduled_at);

CREATE TABLE sched_task_instance (
    id               uuid        PRIMARY KEY,
    task_id          uuid        NOT NULL REFERENCES sched_task (id) ON DELETE CASCADE,
    job_id           uuid        NOT NULL,
    namespace        text        NOT NULL,
    attempt          int         NOT NULL,
    agent_id         text        NOT NULL DEFAULT '',
    server_id        text        NOT NULL DEFAULT '',
    status           int         NOT NULL,
    planned_at       timestamptz NOT NULL,
    lease_expires_at timestamptz,
    dispatched_at    timestamptz,
    acked_at         timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    exit_code        int,
    error            text        NOT NULL DEFAULT '',
    usage            jsonb,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE INDEX sched_task_instance_task_id_idx ON sched_task_instance (task_id);
-- TaskInstanceListLiveByAgent: Dispatched, Acked and Running.
CREATE INDEX sched_task_instance_live_agent_idx ON sched_task_instance (agent_id) WHERE status IN (5, 7, 10);
-- TaskInstanceListLeaseExpired: Dispatched and Acked.
CREATE INDEX sched_task_instance_lease_idx ON sched_task_instance (lease_expires_at) WHERE status IN (5, 7);
CREATE INDEX sched_task_instance_job_id_created_at_idx ON sched_task_instance (job_id, created_at);

CREATE TABLE sched_agent (
    id                text             PRIMARY KEY,
    name              text             NOT NULL DEFAULT '',
    labels            jsonb            NOT NULL,
    capacity          int              NOT NULL DEFAULT 0,
    status            int              NOT NULL,
    server_id         text             NOT NULL DEFAULT '',
    version           text             NOT NULL DEFAULT '',
    load              double precision NOT NULL DEFAULT 0,
    running           int              NOT NULL DEFAULT 0,
    last_heartbeat_at timestamptz      NOT NULL,
    connected_at      timestamptz      NOT NULL,
    created_at        timestamptz      NOT NULL,
    updated_at        timestamptz      NOT NULL
);

-- AgentListStale: Online and Draining agents by heartbeat.
CREATE INDEX sched_agent_heartbeat_idx ON sched_agent (last_heartbeat_at) WHERE status IN (50, 100);

CREATE TABLE sched_server (
    id                text        PRIMARY KEY,
    address           text        NOT NULL DEFAULT '',
    status            int         NOT NULL,
    version           text        NOT NULL DEFAULT '',
    started_at        timestamptz NOT NULL,
    last_heartbeat_at timestamptz NOT NULL,
    created_at        timestamptz NOT NULL
);

CREATE TABLE sched_task_log (
    instance_id  uuid        PRIMARY KEY REFERENCES sched_task_instance (id) ON DELETE CASCADE,
    stdout_bytes bigint      NOT NULL DEFAULT 0,
    stderr_bytes bigint      NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE sched_api_token (
    id           text        PRIMARY KEY,
    name         text        NOT NULL DEFAULT '',
    kind         text        NOT NULL,
    hash         bytea       NOT NULL,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    CONSTRAINT sched_api_token_hash_key UNIQUE (hash)
);

CREATE INDEX sched_api_token_kind_idx ON sched_api_token (kind);

-- +goose Down
DROP TABLE sched_api_token;
DROP TABLE sched_task_log;
DROP TABLE sched_server;
DROP TABLE sched_agent;
DROP TABLE sched_task_instance;
DROP TABLE sched_task;
DROP TABLE sched_schedule;
DROP TABLE sched_job;
