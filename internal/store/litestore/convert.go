package litestore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// The functions below turn generated rows into model values; generated types
// never leave this package. Times come back in UTC.

func apiTokenFromRow(r *dbsqlc.SchedAPIToken) *model.APIToken {
	return &model.APIToken{
		ID:        r.ID,
		Name:      r.Name,
		Kind:      model.TokenKind(r.Kind),
		Hash:      r.Hash,
		ExpiresAt: fromMicrosPtr(r.ExpiresAt),
		CreatedAt: fromMicros(r.CreatedAt),
		LastUsed:  fromMicrosPtr(r.LastUsedAt),
	}
}

func agentFromRow(r *dbsqlc.SchedAgent) (*model.Agent, error) {
	a := &model.Agent{
		ID:                r.ID,
		Name:              r.Name,
		Capacity:          int(r.Capacity),
		Status:            model.AgentStatus(r.Status),
		ServerID:          r.ServerID,
		Version:           r.Version,
		Load:              r.Load,
		Running:           int(r.Running),
		ClockOffsetMillis: r.ClockOffsetMs,
		LastHeartbeatAt:   fromMicros(r.LastHeartbeatAt),
		ConnectedAt:       fromMicros(r.ConnectedAt),
		CreatedAt:         fromMicros(r.CreatedAt),
		UpdatedAt:         fromMicros(r.UpdatedAt),
	}
	if err := json.Unmarshal([]byte(r.Labels), &a.Labels); err != nil {
		return nil, fmt.Errorf("decode labels of agent %s: %w", r.ID, err)
	}
	var info model.AgentInfo
	if err := json.Unmarshal([]byte(r.Info), &info); err != nil {
		return nil, fmt.Errorf("decode info of agent %s: %w", r.ID, err)
	}
	a.Limits, a.Warnings = info.Limits, info.Warnings
	return a, nil
}

func jobFromRow(r *dbsqlc.SchedJob) (*model.Job, error) {
	j := &model.Job{
		ID:          r.ID,
		Namespace:   r.Namespace,
		Name:        r.Name,
		Description: r.Description,
		Status:      model.JobStatus(r.Status),
		CreatedAt:   fromMicros(r.CreatedAt),
		CreatedBy:   r.CreatedBy,
		UpdatedAt:   fromMicros(r.UpdatedAt),
		UpdatedBy:   r.UpdatedBy,
	}
	if err := json.Unmarshal([]byte(r.Config), &j.Config); err != nil {
		return nil, fmt.Errorf("decode config of job %s: %w", r.ID, err)
	}
	return j, nil
}

func scheduleFromRow(r *dbsqlc.SchedSchedule) (*model.Schedule, error) {
	s := &model.Schedule{
		ID:            r.ID,
		JobID:         r.JobID,
		Namespace:     r.Namespace,
		Name:          r.Name,
		Kind:          model.ScheduleKind(r.Kind),
		Cron:          r.Cron,
		TimeZone:      r.TimeZone,
		Interval:      model.Duration(time.Duration(r.IntervalMS) * time.Millisecond),
		StartTime:     fromMicrosPtr(r.StartTime),
		EndTime:       fromMicrosPtr(r.EndTime),
		MaxCount:      r.MaxCount,
		Status:        model.ScheduleStatus(r.Status),
		NextFireAt:    fromMicrosPtr(r.NextFireAt),
		FiredCount:    r.FiredCount,
		LastError:     r.LastError,
		Revision:      r.Revision,
		CreatedAt:     fromMicros(r.CreatedAt),
		UpdatedAt:     fromMicros(r.UpdatedAt),
		SpecChangedAt: fromMicros(r.SpecChangedAt),
	}
	var o model.ScheduleOptions
	if err := json.Unmarshal([]byte(r.Options), &o); err != nil {
		return nil, fmt.Errorf("decode options of schedule %s: %w", r.ID, err)
	}
	s.SetOptions(o)
	return s, nil
}

func serverFromRow(r *dbsqlc.SchedServer) *model.Server {
	return &model.Server{
		ID:              r.ID,
		Address:         r.Address,
		Status:          model.ServerStatus(r.Status),
		Version:         r.Version,
		StartedAt:       fromMicros(r.StartedAt),
		LastHeartbeatAt: fromMicros(r.LastHeartbeatAt),
		CreatedAt:       fromMicros(r.CreatedAt),
	}
}

func taskFromRow(r *dbsqlc.SchedTask) (*model.Task, error) {
	t := &model.Task{
		ID:          r.ID,
		JobID:       r.JobID,
		ScheduleID:  r.ScheduleID,
		Namespace:   r.Namespace,
		ScheduledAt: fromMicros(r.ScheduledAt),
		RunAt:       fromMicros(r.RunAt),
		Priority:    int(r.Priority),
		Attempt:     int(r.Attempt),
		Status:      model.TaskStatus(r.Status),
		Reason:      r.Reason,
		Event:       r.Event,
		FlowRunID:   r.FlowRunID,
		FlowNode:    r.FlowNode,
		CreatedAt:   fromMicros(r.CreatedAt),
		UpdatedAt:   fromMicros(r.UpdatedAt),
		FinishedAt:  fromMicrosPtr(r.FinishedAt),
	}
	if err := json.Unmarshal([]byte(r.Parameters), &t.Parameters); err != nil {
		return nil, fmt.Errorf("decode parameters of task %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Config), &t.Config); err != nil {
		return nil, fmt.Errorf("decode config of task %s: %w", r.ID, err)
	}
	return t, nil
}

func taskInstanceFromRow(r *dbsqlc.SchedTaskInstance) (*model.TaskInstance, error) {
	ti := &model.TaskInstance{
		ID:             r.ID,
		TaskID:         r.TaskID,
		JobID:          r.JobID,
		Namespace:      r.Namespace,
		Attempt:        int(r.Attempt),
		AgentID:        r.AgentID,
		ServerID:       r.ServerID,
		Status:         model.InstanceStatus(r.Status),
		PlannedAt:      fromMicros(r.PlannedAt),
		LeaseExpiresAt: fromMicrosPtr(r.LeaseExpiresAt),
		DispatchedAt:   fromMicrosPtr(r.DispatchedAt),
		AckedAt:        fromMicrosPtr(r.AckedAt),
		StartedAt:      fromMicrosPtr(r.StartedAt),
		FinishedAt:     fromMicrosPtr(r.FinishedAt),
		Error:          r.Error,
		Reason:         r.Reason,
		OutputTail:     r.OutputTail,
		Placement:      r.Placement,
		ShardIndex:     int(r.ShardIndex),
		ShardTotal:     int(r.ShardTotal),
		CreatedAt:      fromMicros(r.CreatedAt),
		UpdatedAt:      fromMicros(r.UpdatedAt),
	}
	if r.ExitCode != nil {
		code := int(*r.ExitCode)
		ti.ExitCode = &code
	}
	if r.Usage != nil {
		if err := json.Unmarshal([]byte(*r.Usage), &ti.Usage); err != nil {
			return nil, fmt.Errorf("decode usage of task instance %s: %w", r.ID, err)
		}
	}
	return ti, nil
}

func taskLogFromRow(r *dbsqlc.SchedTaskLog) *model.TaskLog {
	return &model.TaskLog{
		InstanceID:  r.InstanceID,
		StdoutBytes: r.StdoutBytes,
		StderrBytes: r.StderrBytes,
		UpdatedAt:   fromMicros(r.UpdatedAt),
		FinishedAt:  fromMicrosPtr(r.FinishedAt),
	}
}

// fromRows converts every row with fn.
func fromRows[R, M any](rows []*R, fn func(*R) (*M, error)) ([]*M, error) {
	out := make([]*M, 0, len(rows))
	for _, r := range rows {
		m, err := fn(r)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// inOrder converts the rows of ids, read back after the caller wrote them in
// its transaction, in the order of ids.
func inOrder[R, M any](ids []uuid.UUID, rows []*R, idOf func(*R) uuid.UUID, fn func(*R) (*M, error)) ([]*M, error) {
	byID := make(map[uuid.UUID]*R, len(rows))
	for _, r := range rows {
		byID[idOf(r)] = r
	}
	out := make([]*M, 0, len(ids))
	for _, id := range ids {
		r := byID[id]
		if r == nil {
			return nil, fmt.Errorf("row %s not read back", id)
		}
		m, err := fn(r)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// infallible adapts a conversion that cannot fail to fromRows.
func infallible[R, M any](fn func(*R) *M) func(*R) (*M, error) {
	return func(r *R) (*M, error) { return fn(r), nil }
}

// boolInt is how SQLite stores a bool.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// idsJSON writes ids as a JSON array of their text form, which is how ids
// are stored, for queries that read a list with json_each: one fixed text
// for any number of ids, so the statement is prepared once.
func idsJSON(ids []uuid.UUID) string {
	var b strings.Builder
	b.Grow(2 + len(ids)*39)
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(id.String())
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}
