-- +goose Up
-- A flow is a DAG of jobs; a flow run is one execution of it, whose node
-- tasks point back at it.
CREATE TABLE sched_flow (
    id          uuid        PRIMARY KEY,
    namespace   text        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    status      int         NOT NULL,
    spec        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT sched_flow_namespace_name_key UNIQUE (namespace, name)
);

CREATE TABLE sched_flow_run (
    id          uuid        PRIMARY KEY,
    flow_id     uuid        NOT NULL REFERENCES sched_flow (id) ON DELETE CASCADE,
    namespace   text        NOT NULL,
    status      int         NOT NULL,
    spec        jsonb       NOT NULL,
    parameters  jsonb       NOT NULL,
    reason      text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    finished_at timestamptz
);
CREATE INDEX sched_flow_run_flow_idx ON sched_flow_run (flow_id, created_at);

-- The body of the event that started a task (webhook), handed to the run
-- as a file.
ALTER TABLE sched_task ADD COLUMN event bytea;
ALTER TABLE sched_task ADD COLUMN flow_run_id uuid REFERENCES sched_flow_run (id) ON DELETE CASCADE;
ALTER TABLE sched_task ADD COLUMN flow_node text NOT NULL DEFAULT '';
-- One task per node of a flow run, however many upstream nodes finish at once.
CREATE UNIQUE INDEX sched_task_flow_node_key ON sched_task (flow_run_id, flow_node) WHERE flow_run_id IS NOT NULL;

-- +goose Down
DROP INDEX sched_task_flow_node_key;
ALTER TABLE sched_task DROP COLUMN flow_node;
ALTER TABLE sched_task DROP COLUMN flow_run_id;
ALTER TABLE sched_task DROP COLUMN event;
DROP TABLE sched_flow_run;
DROP TABLE sched_flow;
