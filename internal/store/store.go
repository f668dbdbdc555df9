package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Store is a database pool. It runs queries directly as an [Executor] and
// starts transactions. It is safe for concurrent use.
type Store interface {
	Executor
	// Begin starts a transaction. The caller must end it with Commit or
	// Rollback. On SQLite it takes the single write lock at once.
	Begin(ctx context.Context) (Tx, error)
	// Close releases the pool. Later calls return ErrClosed.
	Close()
	// Dialect names the database: "postgres" or "sqlite".
	Dialect() string
	// MigrateStatus lists the embedded migrations and whether each is applied.
	MigrateStatus(ctx context.Context) ([]*MigrationStatus, error)
	// MigrateUp applies every pending embedded migration.
	MigrateUp(ctx context.Context) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Notifier
}

// Notifier carries small messages between the servers sharing a database
// (PostgreSQL LISTEN/NOTIFY; in process on SQLite, which serves one
// server). Delivery is at most once: a listener that was disconnected
// misses what was sent meanwhile and catches up in onConnect.
type Notifier interface {
	// Notify sends payload (at most MaxNotifyPayload bytes) to every
	// listener of channel, this process's included.
	Notify(ctx context.Context, channel, payload string) error
	// Listen calls onMessage for each notification on channel, in order,
	// until ctx ends, reconnecting after failures. onConnect runs each time
	// listening (re)starts, before that connection's first message, so the
	// caller can catch up on what it missed. It returns ctx's error.
	Listen(ctx context.Context, channel string, onConnect func(), onMessage func(payload string)) error
}

// MaxNotifyPayload bounds a notification (PostgreSQL's limit is 8000 bytes).
const MaxNotifyPayload = 7900

// Tx is a transaction. Rollback after Commit is a no-op, so it can be
// deferred.
type Tx interface {
	Executor
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// MigrationStatus is one embedded migration and whether it is applied.
type MigrationStatus struct {
	Version int64
	Name    string
	Applied bool
}

// AtCommit returns an executor for writes in ex's transaction whose answer
// the caller does not need, written last: where the store can (PostgreSQL),
// they are not sent at once but with the COMMIT, in its round trip, and
// report zero rows and zero values; a query for rows fails; one that fails
// fails the commit. Statements sent on ex itself after them run before
// them, so reads there do not see them on PostgreSQL (and do on SQLite).
// Elsewhere (SQLite, or ex not a transaction) it returns ex.
func AtCommit(ex Executor) Executor {
	if tx, ok := ex.(interface{ AtCommit() Executor }); ok {
		return tx.AtCommit()
	}
	return ex
}

// InTx runs fn in a transaction on s, committing if fn returns nil and rolling
// back otherwise.
func InTx(ctx context.Context, s Store, fn func(ex Executor) error) (err error) {
	tx, err := s.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
			}
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Executor runs every query. Methods are in alphabetical order so an
// entity's methods sit together.
type Executor interface {
	AlertExecutor
	TaskPlanExecutor
	AgentSecurityExecutor
	SecurityExecutor
	UserExecutor
	StatsExecutor
	// APITokenCount counts tokens of a kind.
	APITokenCount(ctx context.Context, params *APITokenCountParams) (int, error)
	// APITokenGetByHash returns the token with the given hash, or ErrNotFound.
	APITokenGetByHash(ctx context.Context, params *APITokenGetByHashParams) (*model.APIToken, error)
	// APITokenInsert stores a token.
	APITokenInsert(ctx context.Context, params *APITokenInsertParams) (*model.APIToken, error)

	// AgentCount counts agents matching a filter.
	AgentCount(ctx context.Context, params *AgentCountParams) (int, error)
	// AgentGetByID returns an agent or ErrNotFound.
	AgentGetByID(ctx context.Context, params *AgentGetByIDParams) (*model.Agent, error)
	// AgentHeartbeat records a heartbeat from an agent held by ServerID. It
	// returns 0 when another server holds the agent now.
	AgentHeartbeat(ctx context.Context, params *AgentHeartbeatParams) (int, error)
	// AgentList lists agents matching a filter, one page.
	AgentList(ctx context.Context, params *AgentListParams) ([]*model.Agent, error)
	// AgentListStale lists Online or Draining agents whose last heartbeat is
	// older than HeartbeatBefore.
	AgentListStale(ctx context.Context, params *AgentListStaleParams) ([]*model.Agent, error)
	// AgentSetStatusIf sets an agent's status if it is held by ServerID (any
	// server when ServerID is empty) and its heartbeat is not newer than
	// HeartbeatBefore (when set). It returns the number of rows changed.
	AgentSetStatusIf(ctx context.Context, params *AgentSetStatusIfParams) (int, error)
	// AgentUpsert records an agent that has just connected: its labels,
	// capacity and version, Online, held by ServerID.
	AgentUpsert(ctx context.Context, params *AgentUpsertParams) (*model.Agent, error)

	// FlowCount counts flows matching a filter.
	FlowCount(ctx context.Context, params *FlowCountParams) (int, error)
	// FlowDelete deletes a flow with its runs and returns it, or ErrNotFound.
	FlowDelete(ctx context.Context, params *FlowDeleteParams) (*model.Flow, error)
	// FlowGetByID returns a flow or ErrNotFound.
	FlowGetByID(ctx context.Context, params *FlowGetByIDParams) (*model.Flow, error)
	// FlowInsert stores a new flow; a duplicate name in the namespace is
	// ErrConflict.
	FlowInsert(ctx context.Context, params *FlowInsertParams) (*model.Flow, error)
	// FlowList lists flows matching a filter, one page.
	FlowList(ctx context.Context, params *FlowListParams) ([]*model.Flow, error)
	// FlowUpdate changes the fields marked DoUpdate and returns the flow, or
	// ErrNotFound.
	FlowUpdate(ctx context.Context, params *FlowUpdateParams) (*model.Flow, error)

	// FlowRunCount counts flow runs matching a filter.
	FlowRunCount(ctx context.Context, params *FlowRunCountParams) (int, error)
	// FlowRunFinishIf moves a flow run that is Doing to a final status and
	// returns the number changed.
	FlowRunFinishIf(ctx context.Context, params *FlowRunFinishIfParams) (int, error)
	// FlowRunGetByID returns a flow run or ErrNotFound.
	FlowRunGetByID(ctx context.Context, params *FlowRunGetByIDParams) (*model.FlowRun, error)
	// FlowRunInsert stores a new flow run.
	FlowRunInsert(ctx context.Context, params *FlowRunInsertParams) (*model.FlowRun, error)
	// FlowRunList lists flow runs matching a filter, one page.
	FlowRunList(ctx context.Context, params *FlowRunListParams) ([]*model.FlowRun, error)
	// FlowRunLock returns a flow run and, on PostgreSQL, locks it until the
	// transaction ends, so decisions about its nodes take turns. It must
	// run in a transaction.
	FlowRunLock(ctx context.Context, params *FlowRunLockParams) (*model.FlowRun, error)

	// JobCount counts jobs matching a filter.
	JobCount(ctx context.Context, params *JobCountParams) (int, error)
	// JobDelete deletes a job with its schedules, tasks and instances and
	// returns it, or ErrNotFound.
	JobDelete(ctx context.Context, params *JobDeleteParams) (*model.Job, error)
	// JobGetByID returns a job or ErrNotFound.
	JobGetByID(ctx context.Context, params *JobGetByIDParams) (*model.Job, error)
	// JobInsert stores a new job; a duplicate name in the namespace is
	// ErrConflict.
	JobInsert(ctx context.Context, params *JobInsertParams) (*model.Job, error)
	// JobList lists jobs matching a filter, one page.
	JobList(ctx context.Context, params *JobListParams) ([]*model.Job, error)
	// JobLockMany locks the jobs' rows until the transaction ends, so
	// dispatchers deciding about the same jobs' overlap and concurrency take
	// turns. It must run in a transaction; on SQLite, whose transactions
	// already take turns, it only counts. It returns the number found.
	JobLockMany(ctx context.Context, params *JobLockManyParams) (int, error)
	// JobUpdate changes the fields marked DoUpdate and returns the job, or
	// ErrNotFound.
	JobUpdate(ctx context.Context, params *JobUpdateParams) (*model.Job, error)

	// ScheduleAdvanceCursorMany moves each schedule's cursor if its revision
	// still equals ExpectRevision, and returns the schedules it moved. The
	// generator inserts tasks only for those, in the same transaction.
	ScheduleAdvanceCursorMany(ctx context.Context, params *ScheduleAdvanceCursorManyParams) ([]*model.Schedule, error)
	// ScheduleCount counts schedules matching a filter.
	ScheduleCount(ctx context.Context, params *ScheduleCountParams) (int, error)
	// ScheduleDelete deletes a schedule and returns it, or ErrNotFound.
	// Tasks it planned stay, with their schedule id.
	ScheduleDelete(ctx context.Context, params *ScheduleDeleteParams) (*model.Schedule, error)
	// ScheduleGetByID returns a schedule or ErrNotFound.
	ScheduleGetByID(ctx context.Context, params *ScheduleGetByIDParams) (*model.Schedule, error)
	// ScheduleInsert stores a new schedule.
	ScheduleInsert(ctx context.Context, params *ScheduleInsertParams) (*model.Schedule, error)
	// ScheduleList lists schedules matching a filter, one page.
	ScheduleList(ctx context.Context, params *ScheduleListParams) ([]*model.Schedule, error)
	// ScheduleListDue lists Enabled schedules of Enabled jobs whose cursor is
	// at or before Horizon and that have no LastError, earliest first.
	ScheduleListDue(ctx context.Context, params *ScheduleListDueParams) ([]*model.Schedule, error)
	// ScheduleListParked lists, among IDs, the Enabled interval and daemon
	// schedules whose cursor is parked (NextFireAt nil): the one-at-a-time
	// schedules waiting for their run to end. Unknown ids are skipped.
	ScheduleListParked(ctx context.Context, params *ScheduleListParkedParams) ([]*model.Schedule, error)
	// ScheduleSetErrorIf records why a schedule could not be planned, if its
	// revision still equals ExpectRevision. It does not change the revision.
	ScheduleSetErrorIf(ctx context.Context, params *ScheduleSetErrorIfParams) (int, error)
	// ScheduleUpdate changes the fields marked DoUpdate, bumps the revision,
	// clears LastError (an edit re-arms a schedule the generator gave up on),
	// and returns the schedule, or ErrNotFound.
	ScheduleUpdate(ctx context.Context, params *ScheduleUpdateParams) (*model.Schedule, error)

	// LeaderAcquire takes the named lease for Holder when it is free or has
	// expired, raising its epoch, and returns it; ErrNotFound when another
	// holder's lease is live.
	LeaderAcquire(ctx context.Context, params *LeaderAcquireParams) (*model.Leader, error)
	// LeaderFence returns ErrNotFound unless Holder holds the live lease at
	// Epoch. In a transaction it keeps the lease from changing hands until
	// the transaction ends, so a leader's writes after it are fenced.
	LeaderFence(ctx context.Context, params *LeaderFenceParams) error
	// LeaderGet returns the named lease, live or not, or ErrNotFound.
	LeaderGet(ctx context.Context, params *LeaderGetParams) (*model.Leader, error)
	// LeaderRelease expires the lease held by Holder at Epoch at once.
	LeaderRelease(ctx context.Context, params *LeaderReleaseParams) (int, error)
	// LeaderRenew extends the live lease held by Holder at Epoch; ErrNotFound
	// when it was lost.
	LeaderRenew(ctx context.Context, params *LeaderRenewParams) (*model.Leader, error)
	// ServerGetByID returns a server or ErrNotFound.
	ServerGetByID(ctx context.Context, params *ServerGetByIDParams) (*model.Server, error)
	// ServerHeartbeat records that a server is alive.
	ServerHeartbeat(ctx context.Context, params *ServerHeartbeatParams) (int, error)
	// ServerList lists servers matching a filter, one page.
	ServerList(ctx context.Context, params *ServerListParams) ([]*model.Server, error)
	// ServerCount counts servers matching a filter.
	ServerCount(ctx context.Context, params *ServerCountParams) (int, error)
	// ServerSetInactive marks a server, or the silent ones, Inactive.
	ServerSetInactive(ctx context.Context, params *ServerSetInactiveParams) (int, error)
	// ServerUpsert registers a starting server, Active.
	ServerUpsert(ctx context.Context, params *ServerUpsertParams) (*model.Server, error)

	// TaskClaimDue returns up to Limit tasks that are Pending or WaitingRetry
	// with RunAt at or before Horizon, highest priority then earliest first,
	// starting after After when it is set.
	// On PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED, so it must run
	// in a transaction and concurrent claimers never see the same task.
	TaskClaimDue(ctx context.Context, params *TaskClaimDueParams) ([]*model.Task, error)
	// TaskCount counts tasks matching a filter.
	TaskCount(ctx context.Context, params *TaskCountParams) (int, error)
	// TaskDeleteMany deletes tasks with their instances and log metadata,
	// and returns how many. Retention uses it.
	TaskDeleteMany(ctx context.Context, params *TaskDeleteManyParams) (int, error)
	// TaskDeletePending deletes tasks planned by schedules (of JobID, or
	// ScheduleID) at or after ScheduledAfter that are Pending and were never
	// dispatched, and returns how many. Schedule edits and disabling use it
	// so that only the new plan runs.
	TaskDeletePending(ctx context.Context, params *TaskDeletePendingParams) (int, error)
	// TaskFinishMany moves tasks that are Doing at the given attempt to a new
	// status: a final one (setting FinishedAt), WaitingRetry (with RunAt) or
	// Pending (a requeue: the attempt number is given back). An empty Reason
	// keeps the task's. It returns the number of tasks changed; items whose
	// guard fails are skipped.
	TaskFinishMany(ctx context.Context, params *TaskFinishManyParams) (int, error)
	// TaskGetByID returns a task or ErrNotFound.
	TaskGetByID(ctx context.Context, params *TaskGetByIDParams) (*model.Task, error)
	// TaskInsertMany inserts tasks, skipping any whose (schedule_id,
	// scheduled_at) already exists, and returns those inserted.
	TaskInsertMany(ctx context.Context, params *TaskInsertManyParams) ([]*model.Task, error)
	// TaskList lists tasks matching a filter, one page.
	TaskList(ctx context.Context, params *TaskListParams) ([]*model.Task, error)
	// TaskListByID lists the tasks with the given ids, in no particular
	// order; unknown ids are skipped. Unlike TaskList it has one fixed query
	// text for any number of ids.
	TaskListByID(ctx context.Context, params *TaskListByIDParams) ([]*model.Task, error)
	// TaskSetStateIf moves one task from one of FromStatuses to Status (with
	// Reason), and returns it, or ErrNotFound when the guard fails. Final
	// statuses set FinishedAt.
	TaskSetStateIf(ctx context.Context, params *TaskSetStateIfParams) (*model.Task, error)
	// TaskStartAttemptMany moves Pending or WaitingRetry tasks to Doing and
	// increments their attempt. It returns the number changed.
	TaskStartAttemptMany(ctx context.Context, params *TaskStartAttemptManyParams) (int, error)

	// TaskInstanceAckMany moves Dispatched instances held by AgentID to Acked
	// and sets their lease to max(PlannedAt, Now) + LeaseGrace.
	TaskInstanceAckMany(ctx context.Context, params *TaskInstanceAckManyParams) (int, error)
	// TaskInstanceCount counts instances matching a filter.
	TaskInstanceCount(ctx context.Context, params *TaskInstanceCountParams) (int, error)
	// TaskInstanceFinishMany moves live instances to a final status. An item
	// with AgentID applies only if that agent holds the instance. It returns
	// the instances it finished; the others were stale or already final.
	TaskInstanceFinishMany(ctx context.Context, params *TaskInstanceFinishManyParams) ([]*model.TaskInstance, error)
	// TaskInstanceGetByID returns an instance or ErrNotFound.
	TaskInstanceGetByID(ctx context.Context, params *TaskInstanceGetByIDParams) (*model.TaskInstance, error)
	// TaskInstanceInsertMany inserts instances and, with StartAttempts,
	// starts their tasks' attempts as TaskStartAttemptMany does.
	TaskInstanceInsertMany(ctx context.Context, params *TaskInstanceInsertManyParams) (int, error)
	// TaskInstanceList lists instances matching a filter, one page.
	TaskInstanceList(ctx context.Context, params *TaskInstanceListParams) ([]*model.TaskInstance, error)
	// TaskInstanceListLeaseExpired lists Dispatched or Acked instances whose
	// lease ended before Now.
	TaskInstanceListLeaseExpired(ctx context.Context, params *TaskInstanceListLeaseExpiredParams) ([]*model.TaskInstance, error)
	// TaskInstanceListLiveByAgent lists the Dispatched, Acked and Running
	// instances held by an agent.
	TaskInstanceListLiveByAgent(ctx context.Context, params *TaskInstanceListLiveByAgentParams) ([]*model.TaskInstance, error)
	// TaskInstanceStartMany moves Dispatched or Acked instances held by their
	// agent to Running. It returns the number changed.
	TaskInstanceStartMany(ctx context.Context, params *TaskInstanceStartManyParams) (int, error)

	// TaskLogChunkInsertMany stores output chunks at their offsets and raises
	// the sizes of their streams in the instances' log metadata, then marks
	// the logs of FinishInstanceIDs complete, in one statement on
	// PostgreSQL. A chunk at an offset already stored replaces the stored
	// one only if it is longer (the same bytes, split differently);
	// otherwise it is a duplicate and changes nothing. Chunks of logs
	// finished before the call (TaskLogFinishMany) and of instances that do
	// not exist are skipped; empty chunks are dropped. It returns the log
	// metadata, after the call, of every instance named that exists.
	TaskLogChunkInsertMany(ctx context.Context, params *TaskLogChunkInsertManyParams) ([]*model.TaskLog, error)
	// TaskLogChunkList lists, by offset, the chunks of a stream holding
	// bytes at or after FromOffset: the first is the last chunk starting at
	// or before FromOffset that holds it (when one does), then every later
	// chunk except those ending at or before FromOffset. A chunk nested in
	// an earlier, longer one may come first, so readers assemble by offset,
	// skip overlaps and ask again from where the bytes stop.
	TaskLogChunkList(ctx context.Context, params *TaskLogChunkListParams) ([]*model.TaskLogChunk, error)
	// TaskLogChunkReplace stores Data as one chunk at FromOffset and deletes
	// the chunks of the stream lying wholly inside it, so a finished log
	// takes fewer rows. A longer chunk at FromOffset is kept, and chunks
	// reaching past the new one stay. It returns 0 when the instance does
	// not exist, else 1.
	TaskLogChunkReplace(ctx context.Context, params *TaskLogChunkReplaceParams) (int, error)
	// TaskLogDeleteMany deletes the output of instances: their chunks and
	// log metadata. It returns the number of instances whose metadata it
	// deleted.
	TaskLogDeleteMany(ctx context.Context, params *TaskLogDeleteManyParams) (int, error)
	// TaskLogFinishMany marks the logs of instances complete (FinishedAt),
	// creating the metadata of those with no output yet. It returns the
	// logs it marked; those marked already, and instances that do not
	// exist, are left out.
	TaskLogFinishMany(ctx context.Context, params *TaskLogFinishManyParams) ([]*model.TaskLog, error)
	// TaskLogGetByInstanceID returns the log metadata of an instance, or
	// ErrNotFound when it produced no output yet.
	TaskLogGetByInstanceID(ctx context.Context, params *TaskLogGetByInstanceIDParams) (*model.TaskLog, error)
	// TaskLogUpsertMany records the stored output sizes of instances. It
	// leaves FinishedAt alone.
	TaskLogUpsertMany(ctx context.Context, params *TaskLogUpsertManyParams) (int, error)
}
