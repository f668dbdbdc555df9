package alert

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

type testBundle struct {
	store store.Store
	svc   *Service
	job   *model.Job
}

func setup(t *testing.T, open func(testing.TB) store.Store, cfg Config) *testBundle {
	t.Helper()
	st := open(t)
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
	}
	cfg.SendInterval = 10 * time.Millisecond
	cfg.Timeout = 5 * time.Second
	svc := New(cfg, st, nil, lifecycletest.Logger(t))
	svc.TestSignals.Init()
	job := storetest.Job(t.Context(), t, st, nil)
	return &testBundle{store: st, svc: svc, job: job}
}

func (b *testBundle) start(t *testing.T) {
	t.Helper()
	if err := b.svc.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.svc.Stop)
}

func (b *testBundle) rule(t *testing.T, channel model.AlertChannel, target string, events ...model.AlertEvent) *model.AlertRule {
	t.Helper()
	r, err := b.store.AlertRuleInsert(t.Context(), &store.AlertRuleInsertParams{
		ID: uuid.Must(uuid.NewV7()), Channel: channel, Enabled: true, Events: events, JobID: &b.job.ID,
		Name: "ops", Namespace: b.job.Namespace, Secret: "k3y", Target: target,
	})
	if err != nil {
		t.Fatalf("AlertRuleInsert: %v", err)
	}
	if err := b.svc.loadRules(t.Context()); err != nil {
		t.Fatalf("loadRules: %v", err)
	}
	return r
}

func (b *testBundle) failed(timeout bool) []sched.Finished {
	in := &model.TaskInstance{ID: uuid.New(), JobID: b.job.ID, AgentID: "agent-1", Attempt: 2, Status: model.InstanceFailed, Error: "exit code 3"}
	if timeout {
		in.Status, in.Error = model.InstanceTimeout, "timed out after 1s"
	}
	t := &model.Task{ID: uuid.New(), JobID: b.job.ID, Namespace: b.job.Namespace, Attempt: 2, Status: model.TaskDoing}
	return []sched.Finished{{Task: t, Status: model.TaskFailed, Instance: in}}
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()

			t.Run("SignedAndRetriedAfter500", func(t *testing.T) {
				t.Parallel()
				b := setup(t, o.Open, Config{MaxAttempts: 3})
				var (
					mu    sync.Mutex
					calls int
					got   []byte
					sig   string
				)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					mu.Lock()
					defer mu.Unlock()
					calls++
					if calls == 1 {
						http.Error(w, "busy", http.StatusInternalServerError)
						return
					}
					got, sig = body, r.Header.Get(SignatureHeader)
				}))
				t.Cleanup(srv.Close)
				rule := b.rule(t, model.AlertWebhook, srv.URL, model.AlertFailure)
				b.start(t)
				b.svc.TasksFinished(b.failed(false))
				b.svc.TestSignals.Queued.Wait(t)
				first := b.svc.TestSignals.Attempted.Wait(t)
				if again := b.svc.TestSignals.Attempted.Wait(t); again != first {
					t.Fatalf("second attempt was of %s, want the retry of %s", again, first)
				}
				mu.Lock()
				defer mu.Unlock()
				if calls != 2 {
					t.Errorf("receiver called %d times, want 2 (a 500, then success)", calls)
				}
				if sig != Sign("k3y", got) || !strings.HasPrefix(sig, "sha256=") {
					t.Errorf("signature %q does not verify over the body", sig)
				}
				var p Payload
				if err := json.Unmarshal(got, &p); err != nil || p.Event != model.AlertFailure || p.RuleID != rule.ID || p.Reason != "exit code 3" || p.AgentID != "agent-1" {
					t.Errorf("payload = %+v (%v), want a failure of rule %s with the run's error and agent", p, err, rule.ID)
				}
				ds, err := b.store.AlertDeliveryList(t.Context(), &store.AlertDeliveryListParams{RuleID: rule.ID})
				if err != nil || len(ds) != 1 || ds[0].Status != model.AlertSent || ds[0].Attempts != 2 || !strings.Contains(ds[0].LastError, "HTTP 500") {
					t.Errorf("deliveries = %+v, %v; want one sent after 2 attempts recording the 500", ds, err)
				}
			})

			t.Run("FailedAfterLastAttempt", func(t *testing.T) {
				t.Parallel()
				b := setup(t, o.Open, Config{MaxAttempts: 2})
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "down", http.StatusBadGateway)
				}))
				t.Cleanup(srv.Close)
				rule := b.rule(t, model.AlertWebhook, srv.URL, model.AlertTimeout, model.AlertFailure)
				b.start(t)
				b.svc.TasksFinished(b.failed(true))
				b.svc.TestSignals.Attempted.Wait(t)
				b.svc.TestSignals.Attempted.Wait(t)
				ds, err := b.store.AlertDeliveryList(t.Context(), &store.AlertDeliveryListParams{RuleID: rule.ID})
				if err != nil || len(ds) != 1 || ds[0].Status != model.AlertFailed || ds[0].Event != model.AlertTimeout {
					t.Errorf("deliveries = %+v, %v; want one timeout delivery, failed after 2 attempts", ds, err)
				}
			})
		})
	}
}

// smtpServer is a tiny SMTP listener: it speaks just enough of RFC 5321
// for one client, offers no STARTTLS, and records the envelope and data.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	from string
	to   []string
	data string
	done chan struct{}
}

func newSMTPServer(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &smtpServer{ln: ln, done: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		s.serve(conn)
	}()
	t.Cleanup(func() { ln.Close(); <-served })
	return s
}

func (s *smtpServer) serve(conn net.Conn) {
	r := bufio.NewReader(conn)
	say := func(line string) { fmt.Fprintf(conn, "%s\r\n", line) }
	say("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		cmd := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			s.mu.Lock()
			addr, _, _ := strings.Cut(line[len("MAIL FROM:"):], ">")
			s.from = strings.Trim(addr, "< ")
			s.mu.Unlock()
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			s.mu.Lock()
			s.to = append(s.to, strings.Trim(line[len("RCPT TO:"):], "<> "))
			s.mu.Unlock()
			say("250 ok")
		case cmd == "DATA":
			say("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.data = b.String()
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			close(s.done)
			return
		default:
			say("502 unknown")
		}
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	smtpd := newSMTPServer(t)
	b := setup(t, teststore.SQLite, Config{SMTP: SMTPConfig{Addr: smtpd.ln.Addr().String(), From: "hetuflow@example.com"}})
	b.rule(t, model.AlertEmail, "ops@example.com, dev@example.com", model.AlertAgentLost)
	b.start(t)
	b.svc.AgentLost("agent-7", []*model.TaskInstance{{ID: uuid.New(), JobID: b.job.ID}})
	b.svc.TestSignals.Attempted.Wait(t)
	select {
	case <-smtpd.done:
	case <-t.Context().Done():
		t.Fatal("the SMTP dialogue did not end")
	}
	smtpd.mu.Lock()
	defer smtpd.mu.Unlock()
	if smtpd.from != "hetuflow@example.com" || strings.Join(smtpd.to, ",") != "ops@example.com,dev@example.com" {
		t.Errorf("envelope from %q to %v, want hetuflow@example.com to both addresses", smtpd.from, smtpd.to)
	}
	if !strings.Contains(smtpd.data, "Subject: [hetuflow] agent_lost") || !strings.Contains(smtpd.data, `"agent_id":"agent-7"`) {
		t.Errorf("mail = %q, want an agent_lost subject and the payload naming agent-7", smtpd.data)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("SuccessAfterFailureOnlyWhenThePreviousFailed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, teststore.SQLite, Config{})
		rule := b.rule(t, model.AlertWebhook, "http://127.0.0.1:1", model.AlertSuccessAfterFailure)
		doing := model.TaskDoing
		prev := storetest.Task(ctx, t, b.store, &storetest.TaskOpts{JobID: &b.job.ID, Status: &doing})
		finish(t, b.store, prev, model.TaskFailed)
		cur := storetest.Task(ctx, t, b.store, &storetest.TaskOpts{JobID: &b.job.ID, Status: &doing})
		finish(t, b.store, cur, model.TaskSucceeded)
		n, err := b.svc.decide(ctx, []event{{finished: &sched.Finished{Task: cur, Status: model.TaskSucceeded}}}, time.Now())
		if err != nil || n != 1 {
			t.Fatalf("decide(success after a failure) = %d, %v; want 1", n, err)
		}
		next := storetest.Task(ctx, t, b.store, &storetest.TaskOpts{JobID: &b.job.ID, Status: &doing})
		finish(t, b.store, next, model.TaskSucceeded)
		n, err = b.svc.decide(ctx, []event{{finished: &sched.Finished{Task: next, Status: model.TaskSucceeded}}}, time.Now())
		if err != nil || n != 0 {
			t.Errorf("decide(success after a success) = %d, %v; want 0", n, err)
		}
		ds, _ := b.store.AlertDeliveryList(ctx, &store.AlertDeliveryListParams{RuleID: rule.ID})
		if len(ds) != 1 || ds[0].Event != model.AlertSuccessAfterFailure {
			t.Errorf("deliveries = %+v, want one success_after_failure", ds)
		}
	})

	t.Run("MissedFiresOnePerSchedule", func(t *testing.T) {
		t.Parallel()
		b := setup(t, teststore.SQLite, Config{})
		rule := b.rule(t, model.AlertWebhook, "http://127.0.0.1:1", model.AlertMissedFire)
		sid := uuid.New()
		var missed []*model.Task
		for range 3 {
			missed = append(missed, &model.Task{ID: uuid.New(), JobID: b.job.ID, Namespace: b.job.Namespace, ScheduleID: &sid, Status: model.TaskSkipped})
		}
		if n, err := b.svc.decide(ctx, []event{{missed: missed}}, time.Now()); err != nil || n != 1 {
			t.Fatalf("decide(3 missed fires) = %d, %v; want 1", n, err)
		}
		ds, _ := b.store.AlertDeliveryList(ctx, &store.AlertDeliveryListParams{RuleID: rule.ID})
		var p Payload
		if len(ds) != 1 || json.Unmarshal(ds[0].Payload, &p) != nil || p.Missed != 3 {
			t.Errorf("deliveries = %+v, want one counting 3 missed fires", ds)
		}
	})

	t.Run("UnwantedEventsAreNotQueued", func(t *testing.T) {
		t.Parallel()
		b := setup(t, teststore.SQLite, Config{})
		b.rule(t, model.AlertWebhook, "http://127.0.0.1:1", model.AlertAgentLost)
		b.svc.TasksFinished(b.failed(false))
		if n := len(b.svc.events); n != 0 {
			t.Errorf("%d events queued for a failure no rule wants, want 0", n)
		}
	})
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 40: MaxBackoff} {
		if got := Backoff(time.Second, n); got != want {
			t.Errorf("Backoff(1s, %d) = %s, want %s", n, got, want)
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, teststore.SQLite, Config{})
	lifecycletest.Stress(t.Context(), t, b.svc)
}

func finish(t *testing.T, st store.Store, task *model.Task, status model.TaskStatus) {
	t.Helper()
	n, err := st.TaskFinishMany(t.Context(), &store.TaskFinishManyParams{Items: []*store.TaskFinish{{ID: task.ID, Attempt: task.Attempt, Status: status}}})
	if err != nil || n != 1 {
		t.Fatalf("TaskFinishMany = %d, %v; want 1", n, err)
	}
}
