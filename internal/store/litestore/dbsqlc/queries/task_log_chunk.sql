-- name: TaskLogChunkInsertMany :execrows
-- Stores one chunk of a log that exists and is not finished; the driver
-- runs it per item in one transaction and, when it changed a row, raises
-- the stream's size with TaskLogChunkInsertManyRaise. A chunk at a stored
-- offset replaces the stored one only when it is longer.
INSERT INTO sched_task_log_chunk (instance_id, stream, byte_offset, data)
SELECT CAST(@instance_id AS TEXT), CAST(@stream AS TEXT), CAST(@byte_offset AS INTEGER), CAST(@data AS BLOB)
WHERE EXISTS (SELECT 1 FROM sched_task_instance AS ti WHERE ti.id = CAST(@instance_id AS TEXT))
    AND NOT EXISTS (
        SELECT 1
        FROM sched_task_log AS l
        WHERE l.instance_id = CAST(@instance_id AS TEXT)
            AND l.finished_at IS NOT NULL
    )
ON CONFLICT (instance_id, stream, byte_offset) DO UPDATE
SET data = excluded.data
WHERE length(excluded.data) > length(sched_task_log_chunk.data);

-- name: TaskLogChunkInsertManyRaise :exec
-- The second step of TaskLogChunkInsertMany: raise a stream's size to a
-- chunk's end.
INSERT INTO sched_task_log (instance_id, stdout_bytes, stderr_bytes, updated_at)
VALUES (@instance_id, @stdout_bytes, @stderr_bytes, @now)
ON CONFLICT (instance_id) DO UPDATE
SET stdout_bytes = max(sched_task_log.stdout_bytes, excluded.stdout_bytes),
    stderr_bytes = max(sched_task_log.stderr_bytes, excluded.stderr_bytes),
    updated_at = excluded.updated_at;

-- name: TaskLogChunkInsertManyLogs :many
-- The last step of TaskLogChunkInsertMany: the metadata it returns.
SELECT *
FROM sched_task_log
WHERE instance_id IN (sqlc.slice('instance_ids'));

-- name: TaskLogChunkList :many
-- See the PostgreSQL query.
WITH page AS (
    SELECT c.instance_id, c.stream, c.byte_offset, c.data
    FROM sched_task_log_chunk AS c
    WHERE c.instance_id = CAST(@instance_id AS TEXT)
        AND c.stream = CAST(@stream AS TEXT)
        AND c.byte_offset >= coalesce((
            SELECT f.byte_offset
            FROM sched_task_log_chunk AS f
            WHERE f.instance_id = CAST(@instance_id AS TEXT)
                AND f.stream = CAST(@stream AS TEXT)
                AND f.byte_offset <= CAST(@from_offset AS INTEGER)
                AND f.byte_offset > CAST(@from_offset AS INTEGER) - CAST(@max_chunk_bytes AS INTEGER)
                AND f.byte_offset + length(f.data) > CAST(@from_offset AS INTEGER)
            ORDER BY f.byte_offset DESC
            LIMIT 1
        ), CAST(@from_offset AS INTEGER))
        AND c.byte_offset + length(c.data) > CAST(@from_offset AS INTEGER)
    ORDER BY c.byte_offset
    LIMIT CAST(@max_chunks AS INTEGER)
)
SELECT p.instance_id, p.stream, p.byte_offset, p.data
FROM (
    SELECT page.instance_id, page.stream, page.byte_offset, page.data,
        sum(length(page.data)) OVER (ORDER BY page.byte_offset) - length(page.data) AS bytes_before
    FROM page
) AS p
WHERE CAST(@max_bytes AS INTEGER) <= 0
    OR p.bytes_before < CAST(@max_bytes AS INTEGER)
ORDER BY p.byte_offset;

-- name: TaskLogChunkReplaceDelete :execrows
-- The first step of TaskLogChunkReplace: drop the chunks after the first
-- that lie wholly inside the new one.
DELETE FROM sched_task_log_chunk
WHERE instance_id = CAST(@instance_id AS TEXT)
    AND stream = CAST(@stream AS TEXT)
    AND byte_offset > CAST(@from_offset AS INTEGER)
    AND byte_offset + length(data) <= CAST(@from_offset AS INTEGER) + CAST(@length AS INTEGER);

-- name: TaskLogChunkReplace :execrows
INSERT INTO sched_task_log_chunk (instance_id, stream, byte_offset, data)
SELECT ti.id, CAST(@stream AS TEXT), CAST(@from_offset AS INTEGER), CAST(@data AS BLOB)
FROM sched_task_instance AS ti
WHERE ti.id = CAST(@instance_id AS TEXT)
ON CONFLICT (instance_id, stream, byte_offset) DO UPDATE
SET data = excluded.data
WHERE length(excluded.data) >= length(sched_task_log_chunk.data);
