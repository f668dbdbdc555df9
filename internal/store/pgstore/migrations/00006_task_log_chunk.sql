-- +goose Up
-- The finish mark of a run's log, set once the run is over and its output
-- stored. Servers sharing the database keep output in sched_task_log_chunk
-- (migration 00005), so this mark is how each of them knows that a log will
-- not grow: later chunks with new bytes are refused, followers stop.
ALTER TABLE sched_task_log ADD COLUMN finished_at timestamptz;

-- +goose Down
ALTER TABLE sched_task_log DROP COLUMN finished_at;
