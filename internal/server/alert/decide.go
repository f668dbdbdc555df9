package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Payload is the JSON body of a webhook and the content of a mail.
type Payload struct {
	Event      model.AlertEvent `json:"event"`
	DeliveryID *uuid.UUID       `json:"delivery_id,omitempty"`
	RuleID     uuid.UUID        `json:"rule_id"`
	RuleName   string           `json:"rule_name"`
	Namespace  string           `json:"namespace,omitempty"`
	JobID      *uuid.UUID       `json:"job_id,omitempty"`
	ScheduleID *uuid.UUID       `json:"schedule_id,omitempty"`
	TaskID     *uuid.UUID       `json:"task_id,omitempty"`
	InstanceID *uuid.UUID       `json:"instance_id,omitempty"`
	AgentID    string           `json:"agent_id,omitempty"`
	// Status is the task's final status (Failed, Succeeded, …).
	Status string `json:"status,omitempty"`
	// Attempt is the task's last attempt.
	Attempt int    `json:"attempt,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Missed counts the skipped fires of a missed_fire alert; Runs the runs
	// an agent_lost alert's agent had.
	Missed int `json:"missed,omitempty"`
	Runs   int `json:"runs,omitempty"`
	// Test marks a payload sent by the test sender.
	Test bool      `json:"test,omitempty"`
	At   time.Time `json:"at"`
}

// event is what the scheduler handed over, waiting for the decider.
type event struct {
	finished *sched.Finished
	agentID  string
	runs     []*model.TaskInstance
	missed   []*model.Task
}

// enqueue hands ev to the decider, or drops it when the queue is full.
func (s *Service) enqueue(ev event) {
	select {
	case s.events <- &ev:
	default:
		s.dropped.Add(1)
	}
}

// wanted reports whether some rule wants e, so events no rule wants cost
// nothing but this check.
func (s *Service) wanted(e ...model.AlertEvent) bool {
	for _, r := range *s.rules.Load() {
		for _, k := range e {
			if r.Wants(k) {
				return true
			}
		}
	}
	return false
}

// TasksFinished implements sched.Alerter.
func (s *Service) TasksFinished(done []sched.Finished) {
	if !s.wanted(model.AlertFailure, model.AlertTimeout, model.AlertSuccessAfterFailure) {
		return
	}
	for i := range done {
		d := done[i]
		if d.Status == model.TaskFailed || d.Status == model.TaskSucceeded {
			s.enqueue(event{finished: &d})
		}
	}
}

// AgentLost implements sched.Alerter.
func (s *Service) AgentLost(agentID string, runs []*model.TaskInstance) {
	if s.wanted(model.AlertAgentLost) {
		s.enqueue(event{agentID: agentID, runs: runs})
	}
}

// FiresMissed implements sched.Alerter.
func (s *Service) FiresMissed(tasks []*model.Task) {
	if s.wanted(model.AlertMissedFire) {
		s.enqueue(event{missed: tasks})
	}
}

// decide turns events into deliveries, one per rule and event, and stores
// them in one statement. It returns how many it queued.
func (s *Service) decide(ctx context.Context, batch []event, now time.Time) (int, error) {
	rules := *s.rules.Load()
	var items []*store.AlertDeliveryInsert
	add := func(r *model.AlertRule, p *Payload) error {
		id := uuid.Must(uuid.NewV7())
		p.RuleID, p.RuleName, p.DeliveryID, p.At = r.ID, r.Name, &id, now.UTC()
		body, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode alert: %w", err)
		}
		items = append(items, &store.AlertDeliveryInsert{ID: id, Event: p.Event, Payload: body, RuleID: r.ID})
		return nil
	}
	for _, ev := range batch {
		var err error
		switch {
		case ev.finished != nil:
			err = s.decideFinished(ctx, rules, ev.finished, add)
		case ev.agentID != "":
			err = decideAgentLost(rules, ev.agentID, ev.runs, add)
		case len(ev.missed) > 0:
			err = decideMissed(rules, ev.missed, add)
		}
		if err != nil {
			return 0, err
		}
	}
	if len(items) == 0 {
		return 0, nil
	}
	n, err := s.store.AlertDeliveryInsertMany(ctx, &store.AlertDeliveryInsertManyParams{Items: items})
	if err != nil {
		return 0, fmt.Errorf("insert deliveries: %w", err)
	}
	return n, nil
}

// decideFinished: a final failure is "timeout" for rules that want it when
// the last attempt timed out, else "failure"; a success is
// "success_after_failure" when the job's previous finished task failed.
func (s *Service) decideFinished(ctx context.Context, rules []*model.AlertRule, d *sched.Finished, add func(*model.AlertRule, *Payload) error) error {
	t := d.Task
	p := func(e model.AlertEvent) *Payload {
		pl := &Payload{Event: e, Namespace: t.Namespace, JobID: &t.JobID, ScheduleID: t.ScheduleID, TaskID: &t.ID,
			Status: d.Status.String(), Attempt: t.Attempt}
		if in := d.Instance; in != nil {
			pl.InstanceID, pl.AgentID, pl.Reason = &in.ID, in.AgentID, in.Error
			if in.Attempt > 0 {
				pl.Attempt = in.Attempt
			}
		}
		return pl
	}
	timedOut := d.Instance != nil && d.Instance.Status == model.InstanceTimeout
	var recovered *bool
	for _, r := range rules {
		if !r.Covers(t.Namespace, t.JobID) {
			continue
		}
		switch d.Status {
		case model.TaskFailed:
			switch {
			case timedOut && r.Wants(model.AlertTimeout):
				if err := add(r, p(model.AlertTimeout)); err != nil {
					return err
				}
			case r.Wants(model.AlertFailure):
				if err := add(r, p(model.AlertFailure)); err != nil {
					return err
				}
			}
		case model.TaskSucceeded:
			if !r.Wants(model.AlertSuccessAfterFailure) {
				continue
			}
			if recovered == nil {
				v, err := s.previousFailed(ctx, t)
				if err != nil {
					return err
				}
				recovered = &v
			}
			if *recovered {
				if err := add(r, p(model.AlertSuccessAfterFailure)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// previousFailed reports whether the job's last finished task before t
// failed.
func (s *Service) previousFailed(ctx context.Context, t *model.Task) (bool, error) {
	prev, err := s.store.TaskList(ctx, &store.TaskListParams{
		Filter: store.Filter{
			{Field: "job_id", Op: store.OpEq, Value: t.JobID},
			{Field: "status", Op: store.OpIn, Value: []any{int64(model.TaskFailed), int64(model.TaskSucceeded)}},
			{Field: "id", Op: store.OpNe, Value: t.ID},
		},
		OrderBy: []store.Order{{Field: "finished_at", Desc: true}},
		Limit:   1,
	})
	if err != nil {
		return false, fmt.Errorf("previous task of job %s: %w", t.JobID, err)
	}
	return len(prev) == 1 && prev[0].Status == model.TaskFailed, nil
}

// decideAgentLost: a namespace-wide rule hears of every lost agent; a job's
// rule only when the agent had a run of that job.
func decideAgentLost(rules []*model.AlertRule, agentID string, runs []*model.TaskInstance, add func(*model.AlertRule, *Payload) error) error {
	for _, r := range rules {
		if !r.Wants(model.AlertAgentLost) {
			continue
		}
		n := 0
		for _, in := range runs {
			if r.JobID == nil || in.JobID == *r.JobID {
				n++
			}
		}
		if r.JobID != nil && n == 0 {
			continue
		}
		p := &Payload{Event: model.AlertAgentLost, Namespace: r.Namespace, JobID: r.JobID, AgentID: agentID, Runs: n,
			Reason: "the agent sent no heartbeat within its TTL and was marked offline"}
		if err := add(r, p); err != nil {
			return err
		}
	}
	return nil
}

// decideMissed: one alert per rule and schedule, counting its skipped
// fires.
func decideMissed(rules []*model.AlertRule, tasks []*model.Task, add func(*model.AlertRule, *Payload) error) error {
	type key struct {
		rule     uuid.UUID
		schedule uuid.UUID
	}
	counts := map[key]*Payload{}
	var order []key
	for _, t := range tasks {
		for _, r := range rules {
			if !r.Wants(model.AlertMissedFire) || !r.Covers(t.Namespace, t.JobID) {
				continue
			}
			k := key{rule: r.ID}
			if t.ScheduleID != nil {
				k.schedule = *t.ScheduleID
			}
			p := counts[k]
			if p == nil {
				p = &Payload{Event: model.AlertMissedFire, Namespace: t.Namespace, JobID: &t.JobID, ScheduleID: t.ScheduleID, Reason: t.Reason}
				counts[k] = p
				order = append(order, k)
			}
			p.Missed++
		}
	}
	byID := map[uuid.UUID]*model.AlertRule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	for _, k := range order {
		if err := add(byID[k.rule], counts[k]); err != nil {
			return err
		}
	}
	return nil
}
