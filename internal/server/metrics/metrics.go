// Package metrics is the server's Prometheus instrumentation: one registry
// per process (never the global one), the collectors behind it, and the
// small methods the scheduler, gateway, leader and store call through
// interfaces they define themselves, so only this package imports
// Prometheus.
//
// Label values are bounded: outcomes, message kinds and statuses are fixed
// sets, store operations are the sqlc query names (anything else counts as
// "other"), and namespaces are capped at MaxNamespaces (later ones count as
// "other"). No label carries a task, instance, job or agent id.
package metrics

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Names lists every hetuflow metric the server exposes (besides the Go
// runtime's go_* and the process's process_*), for docs and dashboards.
var Names = []string{
	"hetuflow_ack_latency_seconds",
	"hetuflow_agents",
	"hetuflow_alert_deliveries_total",
	"hetuflow_build_info",
	"hetuflow_dispatch_latency_seconds",
	"hetuflow_generator_lag_seconds",
	"hetuflow_is_leader",
	"hetuflow_leader_changes_total",
	"hetuflow_queue_depth",
	"hetuflow_queue_oldest_pending_age_seconds",
	"hetuflow_runs_total",
	"hetuflow_store_query_duration_seconds",
	"hetuflow_trigger_lag_seconds",
	"hetuflow_ws_messages_received_total",
	"hetuflow_ws_messages_sent_total",
	"hetuflow_ws_resends_total",
}

// MaxNamespaces bounds the namespace label; later namespaces are "other".
const MaxNamespaces = 100

// Other is the label value for anything past a bound.
const Other = "other"

// latencyBuckets suit scheduling latencies: a millisecond to a minute.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// queryBuckets suit database statements: 100µs to 10s.
var queryBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}

// Metrics holds the server's collectors. Its methods are safe for concurrent
// use; a nil *Metrics is not valid (pass a no-op to the packages instead).
type Metrics struct {
	reg *prometheus.Registry

	triggerLag      prometheus.Histogram
	runs            *prometheus.CounterVec
	queueDepth      prometheus.Gauge
	oldestPending   prometheus.Gauge
	dispatchLatency prometheus.Histogram
	ackLatency      prometheus.Histogram
	agents          *prometheus.GaugeVec
	wsSent          *prometheus.CounterVec
	wsReceived      *prometheus.CounterVec
	wsResends       *prometheus.CounterVec
	leaderChanges   prometheus.Counter
	isLeader        prometheus.Gauge
	generatorLag    prometheus.Gauge
	queryDuration   *prometheus.HistogramVec
	alerts          *prometheus.CounterVec

	nsMu       sync.Mutex
	namespaces map[string]struct{}
	opMu       sync.RWMutex
	operations map[string]struct{}
}

// New returns Metrics registered on a fresh registry, with the Go runtime
// and process collectors and a build info gauge carrying version.
func New(version string) *Metrics {
	m := &Metrics{
		reg:        prometheus.NewRegistry(),
		namespaces: map[string]struct{}{},
		operations: map[string]struct{}{},
		triggerLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hetuflow_trigger_lag_seconds", Help: "How late runs started: start time minus planned time.", Buckets: latencyBuckets}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hetuflow_runs_total", Help: "Tasks that reached a final status, by namespace and outcome."}, []string{"namespace", "outcome"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hetuflow_queue_depth", Help: "Tasks due now that wait for an agent (sampled every few seconds)."}),
		oldestPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hetuflow_queue_oldest_pending_age_seconds", Help: "How long the longest-waiting due task has waited (sampled)."}),
		dispatchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hetuflow_dispatch_latency_seconds", Help: "Per dispatched instance: from the dispatch pass's claim to the push to its agent.", Buckets: latencyBuckets}),
		ackLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hetuflow_ack_latency_seconds", Help: "From queueing a dispatch message to the agent's acknowledgement.", Buckets: latencyBuckets}),
		agents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hetuflow_agents", Help: "Agents by status (sampled)."}, []string{"status"}),
		wsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hetuflow_ws_messages_sent_total", Help: "Messages written to agent sockets, by kind."}, []string{"kind"}),
		wsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hetuflow_ws_messages_received_total", Help: "Messages read from agent sockets, by kind."}, []string{"kind"}),
		wsResends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hetuflow_ws_resends_total", Help: "Resent messages: to_agent are dispatches sent again at reconcile, from_agent are duplicates an agent resent."}, []string{"direction"}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hetuflow_leader_changes_total", Help: "Times this server gained or lost the lead."}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hetuflow_is_leader", Help: "1 while this server leads (plans and housekeeps), else 0."}),
		generatorLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hetuflow_generator_lag_seconds", Help: "At the last generator pass: how far the oldest due schedule cursor was behind now (0 when none was)."}),
		queryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hetuflow_store_query_duration_seconds", Help: "Database statement latency by operation (PostgreSQL).", Buckets: queryBuckets}, []string{"operation"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hetuflow_alert_deliveries_total", Help: "Alert delivery attempts, by channel and result."}, []string{"channel", "result"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hetuflow_build_info", Help: "Always 1; the version is a label."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		m.triggerLag, m.runs, m.queueDepth, m.oldestPending, m.dispatchLatency, m.ackLatency, m.agents,
		m.wsSent, m.wsReceived, m.wsResends, m.leaderChanges, m.isLeader, m.generatorLag, m.queryDuration, m.alerts,
	)
	// Every status is shown from the start, so a dashboard sees zeros
	// rather than gaps.
	for _, s := range []model.AgentStatus{model.AgentOnline, model.AgentDraining, model.AgentOffline} {
		m.agents.WithLabelValues(s.String())
	}
	for _, dir := range []string{"to_agent", "from_agent"} {
		m.wsResends.WithLabelValues(dir)
	}
	for _, ch := range []string{"webhook", "email"} {
		for _, res := range []string{"ok", "retry", "failed"} {
			m.alerts.WithLabelValues(ch, res)
		}
	}
	return m
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// TaskFinished counts a task that reached a final status.
func (m *Metrics) TaskFinished(namespace string, status model.TaskStatus) {
	m.runs.WithLabelValues(m.namespace(namespace), outcome(status)).Inc()
}

// TriggerLag observes how late a run started.
func (m *Metrics) TriggerLag(d time.Duration) { m.triggerLag.Observe(max(d, 0).Seconds()) }

// DispatchLatency observes one dispatched instance's latency.
func (m *Metrics) DispatchLatency(d time.Duration) { m.dispatchLatency.Observe(max(d, 0).Seconds()) }

// GeneratorLag sets how far the generator was behind at its last pass.
func (m *Metrics) GeneratorLag(d time.Duration) { m.generatorLag.Set(max(d, 0).Seconds()) }

// AckLatency observes the time from a dispatch to its acknowledgement.
func (m *Metrics) AckLatency(d time.Duration) { m.ackLatency.Observe(max(d, 0).Seconds()) }

// MessageSent counts a message written to an agent socket.
func (m *Metrics) MessageSent(kind string) { m.wsSent.WithLabelValues(kind).Inc() }

// MessageReceived counts a message read from an agent socket; kind must
// come from a decoded (so known) envelope.
func (m *Metrics) MessageReceived(kind string) { m.wsReceived.WithLabelValues(kind).Inc() }

// Resent counts n messages sent again to an agent (toAgent) or received
// again from one.
func (m *Metrics) Resent(toAgent bool, n int) {
	dir := "from_agent"
	if toAgent {
		dir = "to_agent"
	}
	m.wsResends.WithLabelValues(dir).Add(float64(n))
}

// LeaderChanged records that this server gained (leading) or lost the lead.
func (m *Metrics) LeaderChanged(leading bool) {
	m.leaderChanges.Inc()
	if leading {
		m.isLeader.Set(1)
	} else {
		m.isLeader.Set(0)
	}
}

// QueryDone observes a database statement's duration under its operation
// name. Names must come from a bounded set (sqlc query names); callers pass
// "" when they have none, counted as "other".
func (m *Metrics) QueryDone(operation string, d time.Duration) {
	m.queryDuration.WithLabelValues(m.operation(operation)).Observe(d.Seconds())
}

// AlertDelivery counts an alert delivery attempt on channel (webhook or
// email) with result (ok, retry or failed).
func (m *Metrics) AlertDelivery(channel, result string) {
	m.alerts.WithLabelValues(channel, result).Inc()
}

// Sample sets the sampled gauges: queue depth, oldest pending age and agents
// by status.
func (m *Metrics) Sample(s Sample) {
	m.queueDepth.Set(float64(s.QueueDepth))
	m.oldestPending.Set(s.OldestPendingAge.Seconds())
	for _, st := range []model.AgentStatus{model.AgentOnline, model.AgentDraining, model.AgentOffline} {
		m.agents.WithLabelValues(st.String()).Set(float64(s.AgentsByStatus[st]))
	}
}

// Sample is one reading of the sampled gauges.
type Sample struct {
	QueueDepth       int
	OldestPendingAge time.Duration
	AgentsByStatus   map[model.AgentStatus]int
}

// namespace bounds the namespace label.
func (m *Metrics) namespace(ns string) string {
	m.nsMu.Lock()
	defer m.nsMu.Unlock()
	if _, ok := m.namespaces[ns]; ok {
		return ns
	}
	if len(m.namespaces) >= MaxNamespaces {
		return Other
	}
	m.namespaces[ns] = struct{}{}
	return ns
}

// maxOperations bounds the operation label: more than every sqlc query.
const maxOperations = 300

// operation bounds the operation label.
func (m *Metrics) operation(op string) string {
	if op == "" || len(op) > 64 || strings.ContainsAny(op, " \n\t") {
		return Other
	}
	m.opMu.RLock()
	_, ok := m.operations[op]
	m.opMu.RUnlock()
	if ok {
		return op
	}
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if len(m.operations) >= maxOperations {
		return Other
	}
	m.operations[op] = struct{}{}
	return op
}

// outcome names a final task status for the outcome label.
func outcome(s model.TaskStatus) string {
	switch s {
	case model.TaskSucceeded:
		return "succeeded"
	case model.TaskFailed:
		return "failed"
	case model.TaskCancelled:
		return "cancelled"
	case model.TaskSkipped:
		return "skipped"
	default:
		return Other
	}
}

// ProcessHandler serves a registry of only the Go runtime and process
// collectors and hetuflow_build_info: what the agent exposes on its
// optional metrics listener.
func ProcessHandler(version string) http.Handler {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hetuflow_build_info", Help: "Always 1; the version is a label."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), build)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
