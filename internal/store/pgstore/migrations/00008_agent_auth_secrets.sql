-- +goose Up
-- Enrolment tokens: an agent presents one once and gets a credential of its
-- own. labels is a label selector the agent's labels must match.
CREATE TABLE sched_enroll_token (
    id         text        PRIMARY KEY,
    name       text        NOT NULL DEFAULT '',
    hash       bytea       NOT NULL,
    reusable   boolean     NOT NULL,
    labels     text        NOT NULL DEFAULT '',
    expires_at timestamptz NOT NULL,
    uses       integer     NOT NULL DEFAULT 0,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL,
    CONSTRAINT sched_enroll_token_hash_key UNIQUE (hash)
);

-- One credential per enrolled agent; the agent id comes from it.
CREATE TABLE sched_agent_credential (
    agent_id        text        PRIMARY KEY,
    hash            bytea       NOT NULL,
    enroll_token_id text        NOT NULL DEFAULT '',
    -- The enrolment token's label selector, checked again at every hello.
    labels          text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    CONSTRAINT sched_agent_credential_hash_key UNIQUE (hash)
);

-- Per-namespace secrets, AES-256-GCM under the server key named by key_id.
CREATE TABLE sched_secret (
    namespace  text        NOT NULL,
    name       text        NOT NULL,
    key_id     text        NOT NULL,
    nonce      bytea       NOT NULL,
    ciphertext bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, name)
);

-- +goose Down
DROP TABLE sched_secret;
DROP TABLE sched_agent_credential;
DROP TABLE sched_enroll_token;
