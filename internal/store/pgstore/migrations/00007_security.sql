-- +goose Up
-- Users, their roles per namespace, browser sessions, scoped access tokens
-- (API, setup and one-click login tokens) and the audit log (issue 7).
-- Secrets are stored only as hashes: passwords as argon2id PHC strings,
-- session ids and tokens as SHA-256 of 256-bit random values.
CREATE TABLE sec_user (
    id            text        PRIMARY KEY,
    name          text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT sec_user_name_key UNIQUE (name)
);

CREATE TABLE sec_grant (
    user_id   text NOT NULL REFERENCES sec_user (id) ON DELETE CASCADE,
    namespace text NOT NULL,
    role      text NOT NULL,
    PRIMARY KEY (user_id, namespace)
);

CREATE TABLE sec_session (
    hash         bytea       PRIMARY KEY,
    user_id      text        NOT NULL REFERENCES sec_user (id) ON DELETE CASCADE,
    csrf         text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE INDEX sec_session_user_idx ON sec_session (user_id);

CREATE TABLE sec_token (
    id           text        PRIMARY KEY,
    name         text        NOT NULL DEFAULT '',
    kind         text        NOT NULL,
    hash         bytea       NOT NULL,
    namespaces   text        NOT NULL DEFAULT '[]',
    role         text        NOT NULL DEFAULT '',
    user_id      text        NOT NULL DEFAULT '',
    created_by   text        NOT NULL DEFAULT '',
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT sec_token_hash_key UNIQUE (hash)
);

CREATE INDEX sec_token_kind_idx ON sec_token (kind);

CREATE TABLE sec_audit (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    actor_kind  text        NOT NULL,
    action      text        NOT NULL,
    object_type text        NOT NULL DEFAULT '',
    object_id   text        NOT NULL DEFAULT '',
    namespace   text        NOT NULL DEFAULT '',
    remote_addr text        NOT NULL DEFAULT '',
    request_id  text        NOT NULL DEFAULT '',
    diff        text        NOT NULL DEFAULT ''
);

CREATE INDEX sec_audit_at_idx ON sec_audit (at);

-- +goose Down
DROP TABLE sec_audit;
DROP TABLE sec_token;
DROP TABLE sec_session;
DROP TABLE sec_grant;
DROP TABLE sec_user;
