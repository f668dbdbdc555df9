// Package alert decides and sends alert notifications: rules (stored in the
// database) name a namespace or a job, the events they want, and a webhook
// or email addresses.
//
//	sched (after commit) ──events──▶ decider ──insert──▶ sched_alert_delivery (outbox)
//	                                                           │ claim (SKIP LOCKED), lease
//	                                                           ▼
//	                                     sender ──webhook / SMTP──▶ receiver; record result
//
// The scheduler hands events over without blocking (a bounded queue; drops
// are counted and logged), so a slow receiver never delays scheduling. The
// decider matches events against a snapshot of the rules refreshed every few
// seconds and at once after an API change on this server. Every server runs a
// sender; a delivery is claimed by one of them and retried with exponential
// backoff up to the configured attempts; a sender that dies mid-attempt
// leaves the row to another once its lease passes. The decision is made
// after the results it is about have committed: a server killed between the
// two loses those alerts (never sends them twice).
package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// Config configures a [Service]. It can change while the service runs
// (SetConfig).
type Config struct {
	// SendInterval is the longest pause between sender passes.
	SendInterval time.Duration
	// Timeout bounds one delivery attempt.
	Timeout time.Duration
	// MaxAttempts is how many times a delivery is tried.
	MaxAttempts int
	// RetryBackoff is the pause after the first failure; it doubles after
	// each further one, up to MaxBackoff.
	RetryBackoff time.Duration
	SMTP         SMTPConfig
	// RuleRefresh is how often the rules snapshot is reloaded. Default 5s.
	RuleRefresh time.Duration
}

// MaxBackoff caps the pause between attempts.
const MaxBackoff = time.Hour

// queueSize bounds the events waiting for the decider.
const queueSize = 10_000

// Metrics counts delivery attempts (metrics.Metrics implements it).
type Metrics interface {
	AlertDelivery(channel, result string)
}

type nopMetrics struct{}

func (nopMetrics) AlertDelivery(string, string) {}

// TestSignals lets tests wait for the service.
type TestSignals struct {
	Queued    testsignal.Signal[int]       // deliveries inserted by a decision
	Attempted testsignal.Signal[uuid.UUID] // delivery ids, after each recorded attempt
}

// Init enables the signals.
func (s *TestSignals) Init() { s.Queued.Init(); s.Attempted.Init() }

// Service is the alert decider and sender; it implements sched.Alerter.
type Service struct {
	lifecycle.Base
	store   store.Store
	log     *slog.Logger
	metrics Metrics
	client  *http.Client

	cfg     atomic.Pointer[Config]
	rules   atomic.Pointer[[]*model.AlertRule]
	events  chan *event // pointers: a buffer of 10 000 events would hold 700 KiB from the start
	dropped atomic.Int64
	refresh chan struct{}
	wake    chan struct{}

	TestSignals TestSignals
}

var _ sched.Alerter = (*Service)(nil)

// New returns a Service. metrics may be nil.
func New(cfg Config, st store.Store, metrics Metrics, logger *slog.Logger) *Service {
	if st == nil || logger == nil {
		panic("alert: New needs a store and a logger")
	}
	if metrics == nil {
		metrics = nopMetrics{}
	}
	s := &Service{store: st, log: logger, metrics: metrics, client: &http.Client{},
		events: make(chan *event, queueSize), refresh: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	s.SetConfig(cfg)
	empty := []*model.AlertRule{}
	s.rules.Store(&empty)
	return s
}

// SetConfig changes the settings from the next pass on (a live reload).
func (s *Service) SetConfig(cfg Config) {
	if cfg.SendInterval <= 0 {
		cfg.SendInterval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 5 * time.Second
	}
	if cfg.RuleRefresh <= 0 {
		cfg.RuleRefresh = 5 * time.Second
	}
	s.cfg.Store(&cfg)
}

// RulesChanged reloads the rules snapshot soon; the API calls it after a
// change. It never blocks.
func (s *Service) RulesChanged() {
	select {
	case s.refresh <- struct{}{}:
	default:
	}
}

// Start loads the rules, then runs the decider and the sender until Stop.
func (s *Service) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := s.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	if err := s.loadRules(ctx); err != nil {
		// Not fatal: the decider retries at its next refresh.
		s.log.WarnContext(ctx, "load alert rules", "error", err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.decideLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		s.sendLoop(ctx)
	}()
	go func() {
		started()
		defer stopped()
		wg.Wait()
		// Keep-alive connections to receivers would outlive the service.
		s.client.CloseIdleConnections()
	}()
	return nil
}

func (s *Service) loadRules(ctx context.Context) error {
	rules, err := s.store.AlertRuleList(ctx, &store.AlertRuleListParams{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	s.rules.Store(&rules)
	return nil
}

func (s *Service) decideLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Load().RuleRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.loadRules(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "load alert rules", "error", err)
			}
			if n := s.dropped.Swap(0); n > 0 {
				s.log.WarnContext(ctx, "alert events dropped: queue full", "num_events", n)
			}
		case <-s.refresh:
			if err := s.loadRules(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "load alert rules", "error", err)
			}
		case ev := <-s.events:
			batch := []event{*ev}
		more:
			for len(batch) < 500 {
				select {
				case ev := <-s.events:
					batch = append(batch, *ev)
				default:
					break more
				}
			}
			n, err := s.decide(ctx, batch, time.Now())
			if err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "queue alerts", "num_events", len(batch), "error", err)
			}
			if n > 0 {
				s.TestSignals.Queued.Signal(n)
				s.wakeSender()
			}
		}
	}
}

func (s *Service) wakeSender() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) sendLoop(ctx context.Context) {
	for {
		cfg := s.cfg.Load()
		n, err := s.SendOnce(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "alert sender pass", "error", err)
		}
		if n > 0 {
			continue // claimed a batch: there may be more due
		}
		t := time.NewTimer(cfg.SendInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// sendBatch is how many deliveries one pass claims.
const sendBatch = 20

// SendOnce claims due deliveries and tries each once, recording the
// outcome. It returns how many it claimed.
func (s *Service) SendOnce(ctx context.Context, now time.Time) (int, error) {
	cfg := s.cfg.Load()
	// The lease outlasts an attempt, so a live sender is never overtaken.
	lease := 2*cfg.Timeout + 5*time.Second
	batch, err := s.store.AlertDeliveryClaim(ctx, &store.AlertDeliveryClaimParams{Lease: lease, Limit: sendBatch})
	if err != nil {
		return 0, fmt.Errorf("claim deliveries: %w", err)
	}
	var wg sync.WaitGroup
	for _, d := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.attempt(ctx, cfg, d)
		}()
	}
	wg.Wait()
	return len(batch), nil
}

// attempt sends one claimed delivery and records the outcome: sent, a retry
// after the backoff, or failed after the last attempt.
func (s *Service) attempt(ctx context.Context, cfg *Config, d *model.AlertDelivery) {
	rule, err := s.rule(ctx, d.RuleID)
	if errors.Is(err, store.ErrNotFound) {
		return // deleted with its deliveries
	}
	if err == nil {
		snd := &sender{client: s.client, timeout: cfg.Timeout, smtp: cfg.SMTP}
		err = snd.send(ctx, rule, d.ID.String(), d.Event, d.Payload)
	}
	if ctx.Err() != nil {
		return // stopping: the lease hands it on
	}
	res := &store.AlertDeliverySetResultIfParams{ID: d.ID, Status: model.AlertSent}
	channel := "unknown"
	if rule != nil {
		channel = string(rule.Channel)
	}
	result := "ok"
	if err != nil {
		res.LastError = truncate(err.Error(), 500)
		if d.Attempts >= cfg.MaxAttempts {
			res.Status, result = model.AlertFailed, "failed"
			s.log.WarnContext(ctx, "alert delivery failed", "rule_id", d.RuleID, "delivery_id", d.ID, "attempt", d.Attempts, "error", err)
		} else {
			next := time.Now().Add(Backoff(cfg.RetryBackoff, d.Attempts))
			res.Status, res.NextAttemptAt, result = model.AlertPending, &next, "retry"
			s.log.InfoContext(ctx, "alert delivery will be retried", "rule_id", d.RuleID, "delivery_id", d.ID, "attempt", d.Attempts, "error", err)
		}
	}
	s.metrics.AlertDelivery(channel, result)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.store.AlertDeliverySetResultIf(wctx, res); err != nil {
		s.log.WarnContext(ctx, "record alert delivery", "delivery_id", d.ID, "error", err)
	}
	s.TestSignals.Attempted.Signal(d.ID)
}

// Backoff is the pause after attempt n (1-based) failed: base doubled
// n-1 times, at most MaxBackoff.
func Backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// rule returns a rule from the snapshot, or from the store when the
// snapshot is older than the rule.
func (s *Service) rule(ctx context.Context, id uuid.UUID) (*model.AlertRule, error) {
	for _, r := range *s.rules.Load() {
		if r.ID == id {
			return r, nil
		}
	}
	return s.store.AlertRuleGetByID(ctx, &store.AlertRuleGetByIDParams{ID: id})
}

// SendTest sends a test payload to a rule's target once, at once, and
// returns the attempt's error. Nothing is recorded.
func (s *Service) SendTest(ctx context.Context, rule *model.AlertRule) error {
	cfg := s.cfg.Load()
	body, err := json.Marshal(&Payload{Event: model.AlertFailure, Test: true, RuleID: rule.ID, RuleName: rule.Name,
		Namespace: rule.Namespace, JobID: rule.JobID, Reason: "test alert sent from the hetuflow API", At: time.Now().UTC()})
	if err != nil {
		return err
	}
	snd := &sender{client: s.client, timeout: cfg.Timeout, smtp: cfg.SMTP}
	err = snd.send(ctx, rule, "test-"+uuid.NewString(), model.AlertFailure, body)
	result := "ok"
	if err != nil {
		result = "failed"
	}
	s.metrics.AlertDelivery(string(rule.Channel), result)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
