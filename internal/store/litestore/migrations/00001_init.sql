-- +goose Up
-- UUIDs are canonical lower-case TEXT, times INTEGER unix microseconds (UTC),
-- JSON TEXT. Foreign keys need PRAGMA foreign_keys=ON on every connection.
CREATE TABLE sched_job (
    id          TEXT    NOT NULL PRIMARY KEY,
    namespace   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    status      INTEGER NOT NULL,
    config      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL DEFAULT '',
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT    NOT NULL DEFAULT '',
    CONSTRAINT sched_job_namespace_name_key UNIQUE (namespace, name)
);

CREATE TABLE sched_schedule (
    id           TEXT    NOT NULL PRIMARY KEY,
    job_id       TEXT    NOT NULL REFERENCES sched_job (id) ON DELETE CASCADE,
    namespace    TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    kind         INTEGER NOT NULL,
    cron         TEXT    NOT NULL DEFAULT '',
    time_zone    TEXT    NOT NULL DEFAULT '',
    interval_ms  INTEGER NOT NULL DEFAULT 0,
    start_time   INTEGER,
    end_time     INTEGER,
    max_count    INTEGER NOT NULL DEFAULT 0,
    status       INTEGER NOT NULL,
    next_fire_at INTEGER,
    fired_count  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    revision     INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- ScheduleListDue.
CREATE INDEX sched_schedule_due_idx ON sched_schedule (next_fire_at) WHERE status = 100;
CREATE INDEX sched_schedule_job_id_idx ON sched_schedule (job_id);

-- schedule_id has no foreign key: tasks outlive a deleted schedule.
CREATE TABLE sched_task (
    id           TEXT    NOT NULL PRIMARY KEY,
    job_id       TEXT    NOT NULL REFERENCES sched_job (id) ON DELETE CASCADE,
    schedule_id  TEXT,
    namespace    TEXT    NOT NULL,
    scheduled_at INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,
    priority     INTEGER NOT NULL DEFAULT 0,
    parameters   TEXT    NOT NULL,
    config       TEXT    NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 0,
    status       INTEGER NOT NULL,
    reason       TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    -- Exactly one task per planned fire (DESIGN.md §2.1).
    CONSTRAINT sched_task_schedule_fire_key UNIQUE (schedule_id, scheduled_at)
);

-- TaskClaimDue: Pending and WaitingRetry tasks in claim order.
CREATE INDEX sched_task_claim_idx ON sched_task (priority DESC, run_at, id) WHERE status IN (1, 20);
CREATE INDEX sched_task_job_id_scheduled_at_idx ON sched_task (job_id, scheduled_at);

CREATE TABLE sched_task_instance (
    id               TEXT    NOT NULL PRIMARY KEY,
    task_id          TEXT    NOT NULL REFERENCES sched_task (id) ON DELETE CASCADE,
    job_id           TEXT    NOT NULL,
    namespace        TEXT    NOT NULL,
    attempt          INTEGER NOT NULL,
    agent_id         TEXT    NOT NULL DEFAULT '',
    server_id        TEXT    NOT NULL DEFAULT '',
    status           INTEGER NOT NULL,
    planned_at       INTEGER NOT NULL,
    lease_expires_at INTEGER,
    dispatched_at    INTEGER,
    acked_at         INTEGER,
    started_at       INTEGER,
    finished_at      INTEGER,
    exit_code        INTEGER,
    error            TEXT    NOT NULL DEFAULT '',
    usage            TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE INDEX sched_task_instance_task_id_idx ON sched_task_instance (task_id);
-- TaskInstanceListLiveByAgent: Dispatched, Acked and Running.
CREATE INDEX sched_task_instance_live_agent_idx ON sched_task_instance (agent_id) WHERE status IN (5, 7, 10);
-- TaskInstanceListLeaseExpired: Dispatched and Acked.
CREATE INDEX sched_task_instance_lease_idx ON sched_task_instance (lease_expires_at) WHERE status IN (5, 7);
CREATE INDEX sched_task_instance_job_id_created_at_idx ON sched_task_instance (job_id, created_at);

CREATE TABLE sched_agent (
    id                TEXT    NOT NULL PRIMARY KEY,
    name              TEXT    NOT NULL DEFAULT '',
    labels            TEXT    NOT NULL,
    capacity          INTEGER NOT NULL DEFAULT 0,
    status            INTEGER NOT NULL,
    server_id         TEXT    NOT NULL DEFAULT '',
    version           TEXT    NOT NULL DEFAULT '',
    load              REAL    NOT NULL DEFAULT 0,
    running           INTEGER NOT NULL DEFAULT 0,
    last_heartbeat_at INTEGER NOT NULL,
    connected_at      INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

-- AgentListStale: Online and Draining agents by heartbeat.
CREATE INDEX sched_agent_heartbeat_idx ON sched_agent (last_heartbeat_at) WHERE status IN (50, 100);

CREATE TABLE sched_server (
    id                TEXT    NOT NULL PRIMARY KEY,
    address           TEXT    NOT NULL DEFAULT '',
    status            INTEGER NOT NULL,
    version           TEXT    NOT NULL DEFAULT '',
    started_at        INTEGER NOT NULL,
    last_heartbeat_at INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
);

CREATE TABLE sched_task_log (
    instance_id  TEXT    NOT NULL PRIMARY KEY REFERENCES sched_task_instance (id) ON DELETE CASCADE,
    stdout_bytes INTEGER NOT NULL DEFAULT 0,
    stderr_bytes INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE sched_api_token (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL DEFAULT '',
    kind         TEXT    NOT NULL,
    hash         BLOB    NOT NULL,
    expires_at   INTEGER,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
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
