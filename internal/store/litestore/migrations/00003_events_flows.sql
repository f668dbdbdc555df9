-- +goose Up
-- A flow is a DAG of jobs; a flow run is one execution of it, whose node
-- tasks point back at it.
CREATE TABLE sched_flow (
    id          TEXT    NOT NULL PRIMARY KEY,
    namespace   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    status      INTEGER NOT NULL,
    spec        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT sched_flow_namespace_name_key UNIQUE (namespace, name)
);

CREATE TABLE sched_flow_run (
    id          TEXT    NOT NULL PRIMARY KEY,
    flow_id     TEXT    NOT NULL REFERENCES sched_flow (id) ON DELETE CASCADE,
    namespace   TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    spec        TEXT    NOT NULL,
    parameters  TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX sched_flow_run_flow_idx ON sched_flow_run (flow_id, created_at);

-- The body of the event that started a task (webhook), handed to the run
-- as a file.
ALTER TABLE sched_task ADD COLUMN event BLOB;
ALTER TABLE sched_task ADD COLUMN flow_run_id TEXT REFERENCES sched_flow_run (id) ON DELETE CASCADE;
ALTER TABLE sched_task ADD COLUMN flow_node TEXT NOT NULL DEFAULT '';
-- One task per node of a flow run, however many upstream nodes finish at once.
CREATE UNIQUE INDEX sched_task_flow_node_key ON sched_task (flow_run_id, flow_node) WHERE flow_run_id IS NOT NULL;

-- +goose Down
DROP INDEX sched_task_flow_node_key;
ALTER TABLE sched_task DROP COLUMN flow_node;
ALTER TABLE sched_task DROP COLUMN flow_run_id;
ALTER TABLE sched_task DROP COLUMN event;
DROP TABLE sched_flow_run;
DROP TABLE sched_flow;
