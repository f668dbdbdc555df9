-- +goose Up
-- Enrolment tokens: an agent presents one once and gets a credential of its
-- own. labels is a label selector the agent's labels must match.
CREATE TABLE sched_enroll_token (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL DEFAULT '',
    hash       BLOB    NOT NULL,
    reusable   INTEGER NOT NULL,
    labels     TEXT    NOT NULL DEFAULT '',
    expires_at INTEGER NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL,
    CONSTRAINT sched_enroll_token_hash_key UNIQUE (hash)
);

-- One credential per enrolled agent; the agent id comes from it.
CREATE TABLE sched_agent_credential (
    agent_id        TEXT    NOT NULL PRIMARY KEY,
    hash            BLOB    NOT NULL,
    enroll_token_id TEXT    NOT NULL DEFAULT '',
    -- The enrolment token's label selector, checked again at every hello.
    labels          TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    CONSTRAINT sched_agent_credential_hash_key UNIQUE (hash)
);

-- Per-namespace secrets, AES-256-GCM under the server key named by key_id.
CREATE TABLE sched_secret (
    namespace  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    key_id     TEXT    NOT NULL,
    nonce      BLOB    NOT NULL,
    ciphertext BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, name)
);

-- +goose Down
DROP TABLE sched_secret;
DROP TABLE sched_agent_credential;
DROP TABLE sched_enroll_token;
