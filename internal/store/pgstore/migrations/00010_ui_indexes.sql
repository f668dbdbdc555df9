-- +goose Up
-- The web console lists runs and attempts newest first, paged in the
-- database, for everyone (created_at), for people who see some namespaces
-- only (namespace, created_at) and by agent (agent_id, created_at); without
-- these each page sorts every row (a million in the performance test) to
-- find the first fifty. The dashboard counts finished tasks per status and
-- namespace from the finished_at index alone (an index-only scan), so the
-- finished_at index gains those columns.
CREATE INDEX sched_task_created_at_idx ON sched_task (created_at);
CREATE INDEX sched_task_namespace_created_at_idx ON sched_task (namespace, created_at);
CREATE INDEX sched_task_instance_created_at_idx ON sched_task_instance (created_at);
CREATE INDEX sched_task_instance_namespace_created_at_idx ON sched_task_instance (namespace, created_at);
CREATE INDEX sched_task_instance_agent_created_at_idx ON sched_task_instance (agent_id, created_at);
CREATE INDEX sched_task_finished_stats_idx ON sched_task (finished_at) INCLUDE (status, namespace) WHERE finished_at IS NOT NULL;
DROP INDEX sched_task_finished_idx;

-- +goose Down
CREATE INDEX sched_task_finished_idx ON sched_task (finished_at) WHERE finished_at IS NOT NULL;
DROP INDEX sched_task_finished_stats_idx;
DROP INDEX sched_task_instance_agent_created_at_idx;
DROP INDEX sched_task_instance_namespace_created_at_idx;
DROP INDEX sched_task_instance_created_at_idx;
DROP INDEX sched_task_namespace_created_at_idx;
DROP INDEX sched_task_created_at_idx;
