-- +goose Up
-- Why an instance went to its agent (strategy and reason), and its shard
-- when the job is broadcast to every matching agent.
ALTER TABLE sched_task_instance ADD COLUMN placement TEXT NOT NULL DEFAULT '';
ALTER TABLE sched_task_instance ADD COLUMN shard_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sched_task_instance ADD COLUMN shard_total INTEGER NOT NULL DEFAULT 0;

-- What the agent told the server about itself: its clock offset (updated by
-- heartbeats) and how it enforces limits, with warnings for operators.
ALTER TABLE sched_agent ADD COLUMN clock_offset_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sched_agent ADD COLUMN info TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE sched_agent DROP COLUMN info;
ALTER TABLE sched_agent DROP COLUMN clock_offset_ms;
ALTER TABLE sched_task_instance DROP COLUMN shard_total;
ALTER TABLE sched_task_instance DROP COLUMN shard_index;
ALTER TABLE sched_task_instance DROP COLUMN placement;
