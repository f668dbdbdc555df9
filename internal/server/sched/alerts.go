package sched

import (
	"github.com/hetuflow/hetuflow/internal/model"
)

// Alerter is told, after each commit, about what alert rules may want to
// hear of; it decides and queues deliveries on its own goroutine (the
// alert package implements it). Its methods must not block: a slow
// receiver never delays scheduling.
type Alerter interface {
	// AgentLost reports an agent marked Offline and the runs it had.
	AgentLost(agentID string, runs []*model.TaskInstance)
	// FiresMissed reports fires a misfire policy skipped (Skipped tasks).
	FiresMissed(tasks []*model.Task)
	// TasksFinished reports tasks that reached a final status.
	TasksFinished(done []Finished)
}

// NopAlerter decides nothing; it is the default when a config has none.
type NopAlerter struct{}

// AgentLost implements Alerter.
func (NopAlerter) AgentLost(string, []*model.TaskInstance) {}

// FiresMissed implements Alerter.
func (NopAlerter) FiresMissed([]*model.Task) {}

// TasksFinished implements Alerter.
func (NopAlerter) TasksFinished([]Finished) {}
