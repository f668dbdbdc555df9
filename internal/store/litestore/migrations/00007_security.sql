-- +goose Up
-- Users, their roles per namespace, browser sessions, scoped access tokens
-- (API, setup and one-click login tokens) and the audit log (issue 7).
-- Secrets are stored only as hashes: passwords as argon2id PHC strings,
-- session ids and tokens as SHA-256 of 256-bit random values.
CREATE TABLE sec_user (
    id            TEXT        PRIMARY KEY,
    name          TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    created_at    INTEGER     NOT NULL,
    updated_at    INTEGER     NOT NULL,
    CONSTRAINT sec_user_name_key UNIQUE (name)
);

CREATE TABLE sec_grant (
    user_id   TEXT NOT NULL REFERENCES sec_user (id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (user_id, namespace)
);

CREATE TABLE sec_session (
    hash         BLOB        PRIMARY KEY,
    user_id      TEXT        NOT NULL REFERENCES sec_user (id) ON DELETE CASCADE,
    csrf         TEXT        NOT NULL,
    created_at   INTEGER     NOT NULL,
    last_seen_at INTEGER     NOT NULL,
    expires_at   INTEGER     NOT NULL
);

CREATE INDEX sec_session_user_idx ON sec_session (user_id);

CREATE TABLE sec_token (
    id           TEXT        PRIMARY KEY,
    name         TEXT        NOT NULL DEFAULT '',
    kind         TEXT        NOT NULL,
    hash         BLOB        NOT NULL,
    namespaces   TEXT        NOT NULL DEFAULT '[]',
    role         TEXT        NOT NULL DEFAULT '',
    user_id      TEXT        NOT NULL DEFAULT '',
    created_by   TEXT        NOT NULL DEFAULT '',
    expires_at   INTEGER    ,
    created_at   INTEGER     NOT NULL,
    last_used_at INTEGER    ,
    revoked_at   INTEGER    ,
    CONSTRAINT sec_token_hash_key UNIQUE (hash)
);

CREATE INDEX sec_token_kind_idx ON sec_token (kind);

CREATE TABLE sec_audit (
    id          INTEGER     PRIMARY KEY AUTOINCREMENT,
    at          INTEGER     NOT NULL,
    actor       TEXT        NOT NULL,
    actor_kind  TEXT        NOT NULL,
    action      TEXT        NOT NULL,
    object_type TEXT        NOT NULL DEFAULT '',
    object_id   TEXT        NOT NULL DEFAULT '',
    namespace   TEXT        NOT NULL DEFAULT '',
    remote_addr TEXT        NOT NULL DEFAULT '',
    request_id  TEXT        NOT NULL DEFAULT '',
    diff        TEXT        NOT NULL DEFAULT ''
);

CREATE INDEX sec_audit_at_idx ON sec_audit (at);

-- +goose Down
DROP TABLE sec_audit;
DROP TABLE sec_token;
DROP TABLE sec_session;
DROP TABLE sec_grant;
DROP TABLE sec_user;
