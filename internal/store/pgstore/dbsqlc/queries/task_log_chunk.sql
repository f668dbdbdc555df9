-- name: TaskLogChunkInsertMany :many
-- One statement for a whole batch: store the chunks of logs that exist and
-- are not finished, raise their streams' sizes, mark the logs of
-- FinishInstanceIDs finished (after the chunks: this statement's snapshot
-- does not see its own marks), and return the metadata of every instance
-- named. A chunk at a stored offset replaces the stored one only when it is
-- longer (the same bytes, split differently). The caller removes duplicate
-- keys: one statement cannot update a row twice. Sizes come from the input,
-- not the rows inserted: a duplicate ends within the stored size anyway.
WITH input AS (
    SELECT
        unnest(@instance_ids::uuid[]) AS instance_id,
        unnest(@streams::text[]) AS stream,
        unnest(@byte_offsets::bigint[]) AS byte_offset,
        unnest(@chunk_data::bytea[]) AS data
),
open_input AS (
    SELECT input.*
    FROM input
    JOIN sched_task_instance AS ti ON ti.id = input.instance_id
    WHERE NOT EXISTS (
        SELECT 1
        FROM sched_task_log AS l
        WHERE l.instance_id = input.instance_id
            AND l.finished_at IS NOT NULL
    )
),
inserted AS (
    INSERT INTO sched_task_log_chunk AS c (instance_id, stream, byte_offset, data)
    SELECT open_input.instance_id, open_input.stream, open_input.byte_offset, open_input.data
    FROM open_input
    ON CONFLICT (instance_id, stream, byte_offset) DO UPDATE
    SET data = excluded.data
    WHERE octet_length(excluded.data) > octet_length(c.data)
),
ends AS (
    SELECT
        open_input.instance_id,
        max(open_input.byte_offset + octet_length(open_input.data)) FILTER (WHERE open_input.stream = 'stdout') AS stdout_bytes,
        max(open_input.byte_offset + octet_length(open_input.data)) FILTER (WHERE open_input.stream = 'stderr') AS stderr_bytes
    FROM open_input
    GROUP BY open_input.instance_id
),
finishing AS (
    SELECT ti.id AS instance_id
    FROM sched_task_instance AS ti
    WHERE ti.id = any(@finish_instance_ids::uuid[])
),
changes AS (
    SELECT
        coalesce(ends.instance_id, finishing.instance_id) AS instance_id,
        coalesce(ends.stdout_bytes, 0)::bigint AS stdout_bytes,
        coalesce(ends.stderr_bytes, 0)::bigint AS stderr_bytes,
        finishing.instance_id IS NOT NULL AS finish
    FROM ends
    FULL JOIN finishing ON finishing.instance_id = ends.instance_id
),
raised AS (
    INSERT INTO sched_task_log AS l (instance_id, stdout_bytes, stderr_bytes, updated_at, finished_at)
    SELECT
        changes.instance_id,
        changes.stdout_bytes,
        changes.stderr_bytes,
        coalesce(sqlc.narg('now')::timestamptz, now()),
        CASE WHEN changes.finish THEN coalesce(sqlc.narg('now')::timestamptz, now()) END
    FROM changes
    ON CONFLICT (instance_id) DO UPDATE
    SET stdout_bytes = greatest(l.stdout_bytes, excluded.stdout_bytes),
        stderr_bytes = greatest(l.stderr_bytes, excluded.stderr_bytes),
        updated_at = excluded.updated_at,
        finished_at = coalesce(l.finished_at, excluded.finished_at)
    RETURNING l.instance_id, l.stdout_bytes, l.stderr_bytes, l.updated_at, l.finished_at
)
SELECT raised.instance_id, raised.stdout_bytes, raised.stderr_bytes, raised.updated_at, raised.finished_at
FROM raised
UNION ALL
SELECT l.instance_id, l.stdout_bytes, l.stderr_bytes, l.updated_at, l.finished_at
FROM sched_task_log AS l
WHERE l.instance_id = any(@instance_ids::uuid[])
    AND l.instance_id NOT IN (SELECT raised.instance_id FROM raised);

-- name: TaskLogChunkList :many
-- The chunk holding byte FromOffset starts at most MaxChunkBytes before it;
-- the backward index scan stops at the first that holds it, which in a log
-- without overlaps is the first row it reads. Callers avoid asking from
-- past the end, where the scan finds nothing and reads the whole window.
-- The page is cut by rows first, so the byte budget never reads more.
WITH page AS (
    SELECT c.instance_id, c.stream, c.byte_offset, c.data
    FROM sched_task_log_chunk AS c
    WHERE c.instance_id = @instance_id
        AND c.stream = @stream
        AND c.byte_offset >= coalesce((
            SELECT f.byte_offset
            FROM sched_task_log_chunk AS f
            WHERE f.instance_id = @instance_id
                AND f.stream = @stream
                AND f.byte_offset <= @from_offset::bigint
                AND f.byte_offset > sqlc.arg('from_offset')::bigint - sqlc.arg('max_chunk_bytes')::bigint
                AND f.byte_offset + octet_length(f.data) > @from_offset::bigint
            ORDER BY f.byte_offset DESC
            LIMIT 1
        ), @from_offset::bigint)
        AND c.byte_offset + octet_length(c.data) > @from_offset::bigint
    ORDER BY c.byte_offset
    LIMIT @max_chunks::int
)
SELECT p.instance_id, p.stream, p.byte_offset, p.data
FROM (
    SELECT page.*, sum(octet_length(page.data)) OVER (ORDER BY page.byte_offset) - octet_length(page.data) AS bytes_before
    FROM page
) AS p
WHERE @max_bytes::bigint <= 0
    OR p.bytes_before < @max_bytes::bigint
ORDER BY p.byte_offset;

-- name: TaskLogChunkReplace :execrows
-- Only chunks wholly inside the new one go, so bytes are never lost; the
-- chunk at FromOffset is updated rather than deleted and inserted, since
-- one statement cannot insert a key it deletes.
WITH replaced AS (
    DELETE FROM sched_task_log_chunk AS d
    WHERE d.instance_id = @instance_id
        AND d.stream = @stream
        AND d.byte_offset > @from_offset::bigint
        AND d.byte_offset + octet_length(d.data) <= sqlc.arg('from_offset')::bigint + octet_length(sqlc.arg('data')::bytea)
)
INSERT INTO sched_task_log_chunk AS c (instance_id, stream, byte_offset, data)
SELECT ti.id, @stream, @from_offset::bigint, @data::bytea
FROM sched_task_instance AS ti
WHERE ti.id = @instance_id
ON CONFLICT (instance_id, stream, byte_offset) DO UPDATE
SET data = excluded.data
WHERE octet_length(excluded.data) >= octet_length(c.data);
