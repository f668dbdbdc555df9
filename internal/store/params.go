package store

import (
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// APITokenCountParams are the inputs of Executor.APITokenCount.
type APITokenCountParams struct {
	Kind model.TokenKind
}

// APITokenGetByHashParams are the inputs of Executor.APITokenGetByHash.
type APITokenGetByHashParams struct {
	Hash []byte
}

// APITokenInsertParams are the inputs of Executor.APITokenInsert.
type APITokenInsertParams struct {
	ID        string
	ExpiresAt *time.Time
	Hash      []byte
	Kind      model.TokenKind
	Name      string
	Now       *time.Time
}

// AgentCountParams are the inputs of Executor.AgentCount.
type AgentCountParams struct {
	Filter Filter
}

// AgentGetByIDParams are the inputs of Executor.AgentGetByID.
type AgentGetByIDParams struct {
	ID string
}

// AgentHeartbeatParams are the inputs of Executor.AgentHeartbeat.
type AgentHeartbeatParams struct {
	ID                string
	ClockOffsetMillis int64
	Load              float64
	Now               *time.Time
	Running           int
	ServerID          string
	// Status is Online or Draining; an Offline agent stays Offline.
	Status model.AgentStatus
}

// AgentListParams are the inputs of Executor.AgentList.
type AgentListParams struct {
	Filter  Filter
	Limit   int
	Offset  int
	OrderBy []Order
}

// AgentListStaleParams are the inputs of Executor.AgentListStale.
type AgentListStaleParams struct {
	HeartbeatBefore time.Time
	Limit           int
}

// AgentSetStatusIfParams are the inputs of Executor.AgentSetStatusIf.
type AgentSetStatusIfParams struct {
	ID string
	// HeartbeatBefore, when set, applies the change only if the agent's last
	// heartbeat is older, so a sweep never marks a fresh agent offline.
	HeartbeatBefore *time.Time
	Now             *time.Time
	// ServerID, when set, applies the change only if that server holds the
	// agent.
	ServerID string
	Status   model.AgentStatus
}

// AgentUpsertParams are the inputs of Executor.AgentUpsert.
type AgentUpsertParams struct {
	ID                string
	Capacity          int
	ClockOffsetMillis int64
	Info              model.AgentInfo
	Labels            map[string]string
	Name              string
	Now               *time.Time
	ServerID          string
	// Status is Online or Draining.
	Status  model.AgentStatus
	Version string
}

// FlowCountParams are the inputs of Executor.FlowCount.
type FlowCountParams struct {
	Filter     Filter
	Namespaces []string
}

// FlowDeleteParams are the inputs of Executor.FlowDelete.
type FlowDeleteParams struct {
	ID         uuid.UUID
	Namespaces []string
}

// FlowGetByIDParams are the inputs of Executor.FlowGetByID.
type FlowGetByIDParams struct {
	ID         uuid.UUID
	Namespaces []string
}

// FlowInsertParams are the inputs of Executor.FlowInsert.
type FlowInsertParams struct {
	ID          uuid.UUID
	Description string
	Name        string
	Namespace   string
	Now         *time.Time
	Spec        model.FlowSpec
	Status      model.JobStatus
}

// FlowListParams are the inputs of Executor.FlowList.
type FlowListParams struct {
	Filter     Filter
	Limit      int
	Namespaces []string
	Offset     int
	OrderBy    []Order
}

// FlowUpdateParams are the inputs of Executor.FlowUpdate.
type FlowUpdateParams struct {
	ID                  uuid.UUID
	Description         string
	DescriptionDoUpdate bool
	Name                string
	NameDoUpdate        bool
	Namespaces          []string
	Now                 *time.Time
	Spec                model.FlowSpec
	SpecDoUpdate        bool
	Status              model.JobStatus
	StatusDoUpdate      bool
}

// FlowRunCountParams are the inputs of Executor.FlowRunCount.
type FlowRunCountParams struct {
	Filter     Filter
	Namespaces []string
}

// FlowRunFinishIfParams are the inputs of Executor.FlowRunFinishIf.
type FlowRunFinishIfParams struct {
	ID     uuid.UUID
	Now    *time.Time
	Reason string
	Status model.TaskStatus
}

// FlowRunGetByIDParams are the inputs of Executor.FlowRunGetByID.
type FlowRunGetByIDParams struct {
	ID         uuid.UUID
	Namespaces []string
}

// FlowRunInsertParams are the inputs of Executor.FlowRunInsert.
type FlowRunInsertParams struct {
	ID         uuid.UUID
	FlowID     uuid.UUID
	Namespace  string
	Now        *time.Time
	Parameters map[string]string
	Reason     string
	Spec       model.FlowSpec
	Status     model.TaskStatus
}

// FlowRunListParams are the inputs of Executor.FlowRunList.
type FlowRunListParams struct {
	Filter     Filter
	Limit      int
	Namespaces []string
	Offset     int
	OrderBy    []Order
}

// FlowRunLockParams are the inputs of Executor.FlowRunLock.
type FlowRunLockParams struct {
	ID uuid.UUID
}

// JobCountParams are the inputs of Executor.JobCount.
type JobCountParams struct {
	Filter     Filter
	Namespaces []string
}

// JobDeleteParams are the inputs of Executor.JobDelete.
type JobDeleteParams struct {
	ID         uuid.UUID
	Namespaces []string
}

// JobGetByIDParams are the inputs of Executor.JobGetByID.
type JobGetByIDParams struct {
	ID         uuid.UUID
	Namespaces []string
}

// JobInsertParams are the inputs of Executor.JobInsert.
type JobInsertParams struct {
	ID          uuid.UUID
	Config      model.JobConfig
	CreatedBy   string
	Description string
	Name        string
	Namespace   string
	Now         *time.Time
	Status      model.JobStatus
}

// JobLockManyParams are the inputs of Executor.JobLockMany.
type JobLockManyParams struct {
	IDs []uuid.UUID
}

// JobListParams are the inputs of Executor.JobList.
type JobListParams struct {
	Filter     Filter
	Limit      int
	Namespaces []string
	Offset     int
	OrderBy    []Order
}

// JobUpdateParams are the inputs of Executor.JobUpdate.
type JobUpdateParams struct {
	ID                  uuid.UUID
	Config              model.JobConfig
	ConfigDoUpdate      bool
	Description         string
	DescriptionDoUpdate bool
	Name                string
	NameDoUpdate        bool
	Namespaces          []string
	Now                 *time.Time
	Status              model.JobStatus
	StatusDoUpdate      bool
	UpdatedBy           string
}

// ScheduleAdvanceCursorManyParams are the inputs of
// Executor.ScheduleAdvanceCursorMany.
type ScheduleAdvanceCursorManyParams struct {
	Items []*ScheduleCursorAdvance
	Now   *time.Time
}

// ScheduleCursorAdvance moves one schedule's cursor.
type ScheduleCursorAdvance struct {
	ID             uuid.UUID
	ExpectRevision int64
	// FiredCountDelta is added to the schedule's fired count.
	FiredCountDelta int64
	// NextFireAt is the new cursor; nil means no further fire.
	NextFireAt *time.Time
	// Status, when not zero, replaces the schedule's status (Expired).
	Status model.ScheduleStatus
}

// ScheduleCountParams are the inputs of Executor.ScheduleCount.
type ScheduleCountParams struct {
	Filter     Filter
	Namespaces []string
}

// ScheduleDeleteParams are the inputs of Executor.ScheduleDelete.
type ScheduleDeleteParams struct {
	ID         uuid.UUID
	Namespaces []string
}

// ScheduleGetByIDParams are the inputs of Executor.ScheduleGetByID.
type ScheduleGetByIDParams struct {
	ID         uuid.UUID
	Namespaces []string
}

// ScheduleInsertParams are the inputs of Executor.ScheduleInsert.
type ScheduleInsertParams struct {
	ID         uuid.UUID
	Cron       string
	EndTime    *time.Time
	Interval   time.Duration
	JobID      uuid.UUID
	Kind       model.ScheduleKind
	MaxCount   int64
	Name       string
	Namespace  string
	NextFireAt *time.Time
	Now        *time.Time
	Options    model.ScheduleOptions
	StartTime  *time.Time
	Status     model.ScheduleStatus
	TimeZone   string
}

// ScheduleListParams are the inputs of Executor.ScheduleList.
type ScheduleListParams struct {
	Filter     Filter
	Limit      int
	Namespaces []string
	Offset     int
	OrderBy    []Order
}

// ScheduleListDueParams are the inputs of Executor.ScheduleListDue.
type ScheduleListDueParams struct {
	Horizon time.Time
	Limit   int
}

// ScheduleListParkedParams are the inputs of Executor.ScheduleListParked.
type ScheduleListParkedParams struct {
	IDs []uuid.UUID
}

// ScheduleSetErrorIfParams are the inputs of Executor.ScheduleSetErrorIf.
type ScheduleSetErrorIfParams struct {
	ID             uuid.UUID
	ExpectRevision int64
	LastError      string
	Now            *time.Time
}

// ScheduleUpdateParams are the inputs of Executor.ScheduleUpdate. A change to
// the timing fields must come with a recomputed NextFireAt.
type ScheduleUpdateParams struct {
	ID                 uuid.UUID
	Cron               string
	CronDoUpdate       bool
	EndTime            *time.Time
	EndTimeDoUpdate    bool
	Interval           time.Duration
	IntervalDoUpdate   bool
	MaxCount           int64
	MaxCountDoUpdate   bool
	Name               string
	NameDoUpdate       bool
	Namespaces         []string
	NextFireAt         *time.Time
	NextFireAtDoUpdate bool
	Now                *time.Time
	Options            model.ScheduleOptions
	OptionsDoUpdate    bool
	// SpecChanged sets SpecChangedAt to now: the timing changed, or the
	// schedule was enabled again.
	SpecChanged       bool
	StartTime         *time.Time
	StartTimeDoUpdate bool
	Status            model.ScheduleStatus
	StatusDoUpdate    bool
	TimeZone          string
	TimeZoneDoUpdate  bool
}

// ServerCountParams are the inputs of Executor.ServerCount.
type ServerCountParams struct {
	Filter Filter
}

// ServerGetByIDParams are the inputs of Executor.ServerGetByID.
type ServerGetByIDParams struct {
	ID string
}

// LeaderAcquireParams are the inputs of Executor.LeaderAcquire.
type LeaderAcquireParams struct {
	Name   string
	Holder string
	TTL    time.Duration
	// Now, when set, stands for the database's clock (tests).
	Now *time.Time
}

// LeaderRenewParams are the inputs of Executor.LeaderRenew.
type LeaderRenewParams struct {
	Name   string
	Holder string
	Epoch  int64
	TTL    time.Duration
	Now    *time.Time
}

// LeaderReleaseParams are the inputs of Executor.LeaderRelease.
type LeaderReleaseParams struct {
	Name   string
	Holder string
	Epoch  int64
	Now    *time.Time
}

// LeaderFenceParams are the inputs of Executor.LeaderFence.
type LeaderFenceParams struct {
	Name   string
	Holder string
	Epoch  int64
	Now    *time.Time
}

// LeaderGetParams are the inputs of Executor.LeaderGet.
type LeaderGetParams struct {
	Name string
}

// ServerSetInactiveParams are the inputs of Executor.ServerSetInactive.
type ServerSetInactiveParams struct {
	// ID, if set, names the one server; otherwise every active server whose
	// heartbeat is older than HeartbeatBefore.
	ID              string
	HeartbeatBefore *time.Time
}

// ServerHeartbeatParams are the inputs of Executor.ServerHeartbeat.
type ServerHeartbeatParams struct {
	ID  string
	Now *time.Time
}

// ServerListParams are the inputs of Executor.ServerList.
type ServerListParams struct {
	Filter  Filter
	Limit   int
	Offset  int
	OrderBy []Order
}

// ServerUpsertParams are the inputs of Executor.ServerUpsert.
type ServerUpsertParams struct {
	ID      string
	Address string
	Now     *time.Time
	Version string
}

// TaskClaimDueParams are the inputs of Executor.TaskClaimDue.
type TaskClaimDueParams struct {
	// After, when set, continues a scan after that task in claim order, so a
	// claimer can page past tasks it cannot place.
	After   *TaskClaimCursor
	Horizon time.Time
	Limit   int
}

// TaskClaimCursor is a position in claim order (priority descending, then
// run_at, then id).
type TaskClaimCursor struct {
	ID       uuid.UUID
	Priority int
	RunAt    time.Time
}

// CursorOf returns the claim-order position of t.
func CursorOf(t *model.Task) *TaskClaimCursor {
	return &TaskClaimCursor{ID: t.ID, Priority: t.Priority, RunAt: t.RunAt}
}

// TaskCountParams are the inputs of Executor.TaskCount.
type TaskCountParams struct {
	Filter     Filter
	Namespaces []string
}

// TaskDeleteManyParams are the inputs of Executor.TaskDeleteMany.
type TaskDeleteManyParams struct {
	IDs []uuid.UUID
}

// TaskDeletePendingParams are the inputs of Executor.TaskDeletePending. At
// least one of JobID and ScheduleID must be set.
type TaskDeletePendingParams struct {
	JobID          *uuid.UUID
	ScheduleID     *uuid.UUID
	ScheduledAfter time.Time
}

// TaskFinishManyParams are the inputs of Executor.TaskFinishMany.
type TaskFinishManyParams struct {
	Items []*TaskFinish
	Now   *time.Time
}

// TaskFinish moves one task that is Doing at Attempt.
type TaskFinish struct {
	ID      uuid.UUID
	Attempt int
	Reason  string
	// RunAt is the next attempt's start, for WaitingRetry.
	RunAt  *time.Time
	Status model.TaskStatus
}

// TaskGetByIDParams are the inputs of Executor.TaskGetByID.
type TaskGetByIDParams struct {
	ID         uuid.UUID
	Namespaces []string
}

// TaskInsertManyParams are the inputs of Executor.TaskInsertMany.
type TaskInsertManyParams struct {
	Now   *time.Time
	Tasks []*TaskInsert
}

// TaskInsert is one task to insert.
type TaskInsert struct {
	ID     uuid.UUID
	Config model.JobConfig
	// Event is the body of the webhook call that started the task.
	Event []byte
	// FlowNode and FlowRunID place the task in a flow run; inserting a
	// node twice in a run is ErrConflict.
	FlowNode    string
	FlowRunID   *uuid.UUID
	JobID       uuid.UUID
	Namespace   string
	Parameters  map[string]string
	Priority    int
	Reason      string
	RunAt       time.Time
	ScheduleID  *uuid.UUID
	ScheduledAt time.Time
	// Status is Pending, or Skipped for a fire recorded but not run.
	Status model.TaskStatus
}

// TaskListByIDParams are the inputs of Executor.TaskListByID.
type TaskListByIDParams struct {
	IDs []uuid.UUID
}

// TaskListParams are the inputs of Executor.TaskList.
type TaskListParams struct {
	Filter     Filter
	Limit      int
	Namespaces []string
	Offset     int
	OrderBy    []Order
}

// TaskSetStateIfParams are the inputs of Executor.TaskSetStateIf.
type TaskSetStateIfParams struct {
	ID           uuid.UUID
	FromStatuses []model.TaskStatus
	Namespaces   []string
	Now          *time.Time
	Reason       string
	Status       model.TaskStatus
}

// TaskStartAttemptManyParams are the inputs of Executor.TaskStartAttemptMany.
type TaskStartAttemptManyParams struct {
	IDs []uuid.UUID
	Now *time.Time
}

// TaskInstanceAckManyParams are the inputs of Executor.TaskInstanceAckMany.
type TaskInstanceAckManyParams struct {
	AgentID string
	IDs     []uuid.UUID
	// LeaseGrace sets each lease to the later of the instance's PlannedAt and
	// Now, plus LeaseGrace: a held instance must start by then.
	LeaseGrace time.Duration
	Now        *time.Time
}

// TaskInstanceCountParams are the inputs of Executor.TaskInstanceCount.
type TaskInstanceCountParams struct {
	Filter     Filter
	Namespaces []string
}

// TaskInstanceFinishManyParams are the inputs of
// Executor.TaskInstanceFinishMany.
type TaskInstanceFinishManyParams struct {
	Items []*TaskInstanceFinish
	Now   *time.Time
}

// TaskInstanceFinish ends one live instance.
type TaskInstanceFinish struct {
	ID uuid.UUID
	// AgentID, when set, applies the change only if that agent holds the
	// instance.
	AgentID  string
	Error    string
	ExitCode *int
	// FinishedAt is when the run ended; nil means Now.
	FinishedAt *time.Time
	// StartedAt is set when the instance was never reported Running.
	StartedAt  *time.Time
	OutputTail string
	Reason     string
	Status     model.InstanceStatus
	Usage      *model.ResourceUsage
	// Acked also records the ack: acked_at, if NULL, is set to Now, as a
	// start does. Set it for reports from the instance's agent, which prove
	// it received the instance; server-side ends (lost, cancelled) leave it
	// false.
	Acked bool
}

// TaskInstanceGetByIDParams are the inputs of Executor.TaskInstanceGetByID.
type TaskInstanceGetByIDParams struct {
	ID         uuid.UUID
	Namespaces []string
}

// TaskInstanceInsertManyParams are the inputs of
// Executor.TaskInstanceInsertMany.
type TaskInstanceInsertManyParams struct {
	Instances []*TaskInstanceInsert
	Now       *time.Time
	// StartAttempts also does TaskStartAttemptMany for the instances'
	// tasks, in the same statement where the store can: the dispatcher's
	// write in one round trip.
	StartAttempts bool
}

// TaskInstanceInsert is one instance to insert.
type TaskInstanceInsert struct {
	ID             uuid.UUID
	AgentID        string
	Attempt        int
	DispatchedAt   *time.Time
	JobID          uuid.UUID
	LeaseExpiresAt *time.Time
	Namespace      string
	Placement      string
	PlannedAt      time.Time
	ServerID       string
	ShardIndex     int
	ShardTotal     int
	Status         model.InstanceStatus
	TaskID         uuid.UUID
}

// TaskInstanceListParams are the inputs of Executor.TaskInstanceList.
type TaskInstanceListParams struct {
	Filter     Filter
	Limit      int
	Namespaces []string
	Offset     int
	OrderBy    []Order
}

// TaskInstanceListLeaseExpiredParams are the inputs of
// Executor.TaskInstanceListLeaseExpired.
type TaskInstanceListLeaseExpiredParams struct {
	Limit int
	Now   *time.Time
}

// TaskInstanceListLiveByAgentParams are the inputs of
// Executor.TaskInstanceListLiveByAgent.
type TaskInstanceListLiveByAgentParams struct {
	AgentID string
}

// TaskInstanceStartManyParams are the inputs of
// Executor.TaskInstanceStartMany.
type TaskInstanceStartManyParams struct {
	Items []*TaskInstanceStart
	Now   *time.Time
}

// TaskInstanceStart marks one instance Running.
type TaskInstanceStart struct {
	ID        uuid.UUID
	AgentID   string
	StartedAt time.Time
}

// MaxTaskLogChunkBytes bounds the data of one stored log chunk. Reads rely
// on it: the chunk holding a byte starts at most this far before it.
const MaxTaskLogChunkBytes = 4 << 20

// TaskLogChunkInsertManyParams are the inputs of
// Executor.TaskLogChunkInsertMany.
type TaskLogChunkInsertManyParams struct {
	// FinishInstanceIDs are instances whose logs are marked complete once
	// the chunks are stored, as TaskLogFinishMany does.
	FinishInstanceIDs []uuid.UUID
	// Items are the chunks, each at most MaxTaskLogChunkBytes. The same
	// instance, stream and offset may come more than once.
	Items []*model.TaskLogChunk
	Now   *time.Time
}

// TaskLogChunkListParams are the inputs of Executor.TaskLogChunkList.
type TaskLogChunkListParams struct {
	InstanceID uuid.UUID
	// FromOffset is the first byte of the stream wanted.
	FromOffset int64
	// Limit caps the chunks listed; zero means MaxPageLimit.
	Limit int
	// MaxBytes ends the list at the first chunk that would take the data
	// listed past it; the first chunk is always listed. Zero means no bound.
	MaxBytes int64
	Stream   model.LogStream
}

// TaskLogChunkReplaceParams are the inputs of Executor.TaskLogChunkReplace.
type TaskLogChunkReplaceParams struct {
	InstanceID uuid.UUID
	// Data is the stream's bytes from FromOffset on, at most
	// MaxTaskLogChunkBytes.
	Data       []byte
	FromOffset int64
	Stream     model.LogStream
}

// TaskLogDeleteManyParams are the inputs of Executor.TaskLogDeleteMany.
type TaskLogDeleteManyParams struct {
	InstanceIDs []uuid.UUID
}

// TaskLogFinishManyParams are the inputs of Executor.TaskLogFinishMany.
type TaskLogFinishManyParams struct {
	InstanceIDs []uuid.UUID
	Now         *time.Time
}

// TaskLogGetByInstanceIDParams are the inputs of
// Executor.TaskLogGetByInstanceID.
type TaskLogGetByInstanceIDParams struct {
	InstanceID uuid.UUID
}

// TaskLogUpsertManyParams are the inputs of Executor.TaskLogUpsertMany.
type TaskLogUpsertManyParams struct {
	Items []*TaskLogUpsert
	Now   *time.Time
}

// TaskLogUpsert sets the stored output sizes of one instance.
type TaskLogUpsert struct {
	InstanceID  uuid.UUID
	StdoutBytes int64
	StderrBytes int64
}

// LiveAgentStatus is the status a connected agent is stored with: Draining
// when it says so, otherwise Online (the zero status included).
func LiveAgentStatus(s model.AgentStatus) model.AgentStatus {
	if s == model.AgentDraining {
		return model.AgentDraining
	}
	return model.AgentOnline
}
