-- +goose Up
-- Task output as chunks at their byte offset, and the finish mark of a log
-- (see the PostgreSQL migrations 00005 and 00006). A SQLite server keeps its
-- output in files; the table keeps both stores alike, so the same queries
-- and tests run on each.
CREATE TABLE sched_task_log_chunk (
    instance_id TEXT    NOT NULL REFERENCES sched_task_instance (id) ON DELETE CASCADE,
    stream      TEXT    NOT NULL,
    byte_offset INTEGER NOT NULL,
    data        BLOB    NOT NULL,
    PRIMARY KEY (instance_id, stream, byte_offset)
);

ALTER TABLE sched_task_log ADD COLUMN finished_at INTEGER;

-- +goose Down
ALTER TABLE sched_task_log DROP COLUMN finished_at;
DROP TABLE sched_task_log_chunk;
