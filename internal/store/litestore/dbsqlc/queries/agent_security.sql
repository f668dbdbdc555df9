-- name: AgentCredentialGetByHash :one
SELECT * FROM sched_agent_credential WHERE hash = @hash;

-- name: AgentCredentialInsert :one
INSERT INTO sched_agent_credential (agent_id, hash, enroll_token_id, labels, created_at)
VALUES (@agent_id, @hash, @enroll_token_id, @labels, @now)
RETURNING *;

-- name: AgentCredentialRevoke :one
UPDATE sched_agent_credential
SET revoked_at = coalesce(revoked_at, @now)
WHERE agent_id = @agent_id
RETURNING *;

-- name: EnrollTokenGetByHash :one
SELECT * FROM sched_enroll_token WHERE hash = @hash;

-- name: EnrollTokenInsert :one
INSERT INTO sched_enroll_token (id, name, hash, reusable, labels, expires_at, created_at)
VALUES (@id, @name, @hash, @reusable, @labels, @expires_at, @now)
RETURNING *;

-- name: EnrollTokenList :many
SELECT * FROM sched_enroll_token ORDER BY created_at DESC, id;

-- name: EnrollTokenRevoke :one
UPDATE sched_enroll_token
SET revoked_at = coalesce(revoked_at, @now)
WHERE id = @id
RETURNING *;

-- name: EnrollTokenUse :one
UPDATE sched_enroll_token
SET uses = uses + 1
WHERE hash = @hash AND revoked_at IS NULL AND expires_at > @now AND (reusable OR uses = 0)
RETURNING *;

-- name: SecretDelete :execrows
DELETE FROM sched_secret WHERE namespace = @namespace AND name = @name;

-- name: SecretGet :one
SELECT * FROM sched_secret WHERE namespace = @namespace AND name = @name;

-- name: SecretList :many
SELECT * FROM sched_secret WHERE namespace = @namespace ORDER BY name;

-- name: SecretUpsert :one
INSERT INTO sched_secret (namespace, name, key_id, nonce, ciphertext, created_at, updated_at)
VALUES (@namespace, @name, @key_id, @nonce, @ciphertext, @now, @now)
ON CONFLICT (namespace, name) DO UPDATE
SET key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at
RETURNING *;
