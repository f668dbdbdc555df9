package sched

import (
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Metrics is what the scheduler reports to the server's instrumentation
// (metrics.Metrics implements it). Implementations must be safe for
// concurrent use and must not block.
type Metrics interface {
	// DispatchLatency observes one dispatched instance: from its pass's
	// claim to the push to its agent.
	DispatchLatency(d time.Duration)
	// GeneratorLag sets how far the oldest due schedule cursor was behind
	// now at a generator pass.
	GeneratorLag(d time.Duration)
	// TaskFinished counts a task that reached a final status.
	TaskFinished(namespace string, status model.TaskStatus)
	// TriggerLag observes how late a run started (start minus planned).
	TriggerLag(d time.Duration)
}

// NopMetrics records nothing; it is the default when a config has none.
type NopMetrics struct{}

// DispatchLatency implements Metrics.
func (NopMetrics) DispatchLatency(time.Duration) {}

// GeneratorLag implements Metrics.
func (NopMetrics) GeneratorLag(time.Duration) {}

// TaskFinished implements Metrics.
func (NopMetrics) TaskFinished(string, model.TaskStatus) {}

// TriggerLag implements Metrics.
func (NopMetrics) TriggerLag(time.Duration) {}

// observeFinish reports what finishing instances did, after it committed,
// to the metrics and the alerter.
func observeFinish(m Metrics, a Alerter, fin FinishResult) {
	if len(fin.Done) > 0 {
		a.TasksFinished(fin.Done)
	}
	for _, d := range fin.StartLags {
		m.TriggerLag(d)
	}
	for _, d := range fin.Done {
		m.TaskFinished(d.Task.Namespace, d.Status)
	}
}
