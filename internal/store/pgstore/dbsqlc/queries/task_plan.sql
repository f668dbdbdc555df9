-- name: TaskSetConfigPending :execrows
UPDATE sched_task
SET config = @config,
    parameters = @parameters,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE job_id = @job_id
    AND status = 1
    AND attempt = 0
    AND schedule_id IS NOT NULL;
