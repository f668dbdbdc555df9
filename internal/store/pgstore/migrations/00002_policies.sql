-- +goose Up
-- Schedule policies (misfire, interval mode) live together as JSON; the
-- ledger accounts for fires since spec_changed_at.
ALTER TABLE sched_schedule ADD COLUMN options jsonb NOT NULL DEFAULT '{}';
ALTER TABLE sched_schedule ADD COLUMN spec_changed_at timestamptz;
UPDATE sched_schedule SET spec_changed_at = created_at;
ALTER TABLE sched_schedule ALTER COLUMN spec_changed_at SET NOT NULL;

-- Why a run ended, as a stable code, and the last lines of its output.
ALTER TABLE sched_task_instance ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE sched_task_instance ADD COLUMN output_tail text NOT NULL DEFAULT '';

-- Overlap and concurrency checks count a job's unfinished tasks.
CREATE INDEX sched_task_job_active_idx ON sched_task (job_id) WHERE status IN (10, 20);
-- Retention deletes finished tasks oldest first.
CREATE INDEX sched_task_finished_idx ON sched_task (finished_at) WHERE finished_at IS NOT NULL;

-- +goose Down
DROP INDEX sched_task_finished_idx;
DROP INDEX sched_task_job_active_idx;
ALTER TABLE sched_task_instance DROP COLUMN output_tail;
ALTER TABLE sched_task_instance DROP COLUMN reason;
ALTER TABLE sched_schedule DROP COLUMN spec_changed_at;
ALTER TABLE sched_schedule DROP COLUMN options;
