-- +goose Up
-- The leader lease: one row per role. The holder renews it before it
-- expires; anyone may take an expired lease, which raises the epoch. Leader
-- writes check (holder, epoch) in their transaction, so a deposed leader's
-- late writes are refused. Times are the database's clock.
CREATE TABLE sched_leader (
    name       text        PRIMARY KEY,
    holder     text        NOT NULL,
    epoch      bigint      NOT NULL,
    expires_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Task output when servers share PostgreSQL: chunks at their byte offset,
-- so a resent chunk lands on itself; any server reads any log.
CREATE TABLE sched_task_log_chunk (
    instance_id uuid   NOT NULL REFERENCES sched_task_instance (id) ON DELETE CASCADE,
    stream      text   NOT NULL,
    byte_offset bigint NOT NULL,
    data        bytea  NOT NULL,
    PRIMARY KEY (instance_id, stream, byte_offset)
);

-- +goose Down
DROP TABLE sched_task_log_chunk;
DROP TABLE sched_leader;
