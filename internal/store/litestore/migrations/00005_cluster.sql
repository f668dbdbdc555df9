-- +goose Up
-- The leader lease (see the PostgreSQL migration). SQLite serves one server,
-- which takes it at once; the table keeps both stores alike.
CREATE TABLE sched_leader (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    epoch      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE sched_leader;
