package tasklog

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// recordingNotifier records what is sent and lets a test make Listen
// connect again.
type recordingNotifier struct {
	mu        sync.Mutex
	sent      []relayMessage
	reconnect chan struct{}
}

func newRecordingNotifier() *recordingNotifier {
	return &recordingNotifier{reconnect: make(chan struct{})}
}

func (n *recordingNotifier) Notify(_ context.Context, _, payload string) error {
	var m relayMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, m)
	return nil
}

func (n *recordingNotifier) Listen(ctx context.Context, _ string, onConnect func(), _ func(string)) error {
	onConnect()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.reconnect:
			onConnect()
		}
	}
}

func (n *recordingNotifier) messages() []relayMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]relayMessage(nil), n.sent...)
}

func woken(s *Subscription) bool {
	select {
	case <-s.Wake():
		return true
	default:
		return false
	}
}

func TestRelay(t *testing.T) {
	t.Parallel()

	t.Run("CoalescesPerInterval", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			n := newRecordingNotifier()
			logs := setup(t).store
			r := NewRelay(RelayConfig{ServerID: "a", Interval: 100 * time.Millisecond}, n, logs, lifecycletest.WarnLogger(t))
			if err := r.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer r.Stop()
			id, other := uuid.New(), uuid.New()
			for i := range 50 {
				mustWrite(t, logs, id, model.Stdout, int64(i), "x")
			}
			synctest.Wait()
			// The first write goes out at once; the rest wait for the
			// interval and go out together.
			if got := len(n.messages()); got != 1 {
				t.Fatalf("%d notifications right after a burst, want 1", got)
			}
			mustWrite(t, logs, other, model.Stdout, 0, "y")
			mustFinish(t, logs, id)
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
			msgs := n.messages()
			if len(msgs) != 2 {
				t.Fatalf("%d notifications after the interval, want 2", len(msgs))
			}
			if m := msgs[1]; m.Server != "a" || len(m.Output) != 1 || m.Output[0] != other || len(m.Finished) != 1 || m.Finished[0] != id {
				t.Errorf("second notification = %+v, want output of %s and the finish of %s", m, other, id)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			if got := len(n.messages()); got != 2 {
				t.Errorf("%d notifications with nothing new, want 2", got)
			}
		})
	})

	t.Run("WakesEveryFollowerOnReconnect", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			n := newRecordingNotifier()
			logs := setup(t).store
			r := NewRelay(RelayConfig{ServerID: "a"}, n, logs, lifecycletest.WarnLogger(t))
			sub1, sub2 := logs.Broker().Subscribe(uuid.New()), logs.Broker().Subscribe(uuid.New())
			defer sub1.Close()
			defer sub2.Close()
			if err := r.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer r.Stop()
			synctest.Wait()
			if !woken(sub1) || !woken(sub2) {
				t.Fatalf("followers not woken on the first connect")
			}
			n.reconnect <- struct{}{}
			synctest.Wait()
			if !woken(sub1) || !woken(sub2) {
				t.Errorf("followers not woken on a reconnect")
			}
			if sub1.Finished() {
				t.Errorf("a reconnect finished a follow")
			}
		})
	})

	t.Run("PublishesWhatIsPendingAtStop", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			n := newRecordingNotifier()
			logs := setup(t).store
			r := NewRelay(RelayConfig{ServerID: "a", Interval: time.Hour}, n, logs, lifecycletest.WarnLogger(t))
			if err := r.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			id := uuid.New()
			mustWrite(t, logs, id, model.Stdout, 0, "x")
			synctest.Wait()
			mustFinish(t, logs, id) // waits for the hour-long interval
			r.Stop()
			msgs := n.messages()
			if len(msgs) != 2 || len(msgs[1].Finished) != 1 {
				t.Errorf("notifications = %+v, want the output, then the finish sent at stop", msgs)
			}
		})
	})

	t.Run("SplitsMessagesToFit", func(t *testing.T) {
		t.Parallel()
		pending := map[uuid.UUID]bool{}
		for i := range 1000 {
			pending[uuid.New()] = i%3 == 0
		}
		msgs, err := relayMessages("server-with-a-long-name", pending)
		if err != nil {
			t.Fatalf("relayMessages: %v", err)
		}
		seen := 0
		for _, raw := range msgs {
			if len(raw) > store.MaxNotifyPayload {
				t.Errorf("message of %d bytes, over %d", len(raw), store.MaxNotifyPayload)
			}
			var m relayMessage
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				t.Fatalf("decode: %v", err)
			}
			for _, id := range m.Output {
				if pending[id] {
					t.Errorf("finished %s sent as output", id)
				}
			}
			for _, id := range m.Finished {
				if !pending[id] {
					t.Errorf("%s sent as finished", id)
				}
			}
			seen += len(m.Output) + len(m.Finished)
		}
		if seen != len(pending) || len(msgs) < 2 {
			t.Errorf("%d messages naming %d instances, want several naming %d", len(msgs), seen, len(pending))
		}
	})

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		logs := setup(t).store
		mk := func() *Relay {
			return NewRelay(RelayConfig{ServerID: "a"}, newRecordingNotifier(), logs, lifecycletest.WarnLogger(t))
		}
		lifecycletest.Stress(t.Context(), t, mk())
		lifecycletest.StopsImmediately(t.Context(), t, mk())
		lifecycletest.RespectsContextCancellation(t.Context(), t, mk())
		lifecycletest.CanRestart(t.Context(), t, mk())
	})

	// Two servers on one database: a follower on one wakes for output the
	// other stores, and for its finish. SQLite delivers in process.
	for _, o := range teststore.Both() {
		t.Run("CarriesWakeUpsBetweenServers/"+o.Name, func(t *testing.T) {
			t.Parallel()
			db := o.Open(t)
			start := func(serverID string) (*Store, *Relay) {
				logs := NewDB(db)
				r := NewRelay(RelayConfig{ServerID: serverID}, db, logs, lifecycletest.WarnLogger(t))
				r.TestSignals.Init()
				if err := r.Start(t.Context()); err != nil {
					t.Fatalf("Start: %v", err)
				}
				t.Cleanup(r.Stop)
				r.TestSignals.Connected.Wait(t)
				return logs, r
			}
			logsA, relayA := start("a")
			logsB, relayB := start("b")
			id := (&testBundle{db: db}).newID(t)
			sub := logsB.Broker().Subscribe(id)
			defer sub.Close()
			mustWrite(t, logsA, id, model.Stdout, 0, "hello\n")
			if n := relayB.TestSignals.Received.Wait(t); n != 1 {
				t.Errorf("b received %d instances, want 1", n)
			}
			if !woken(sub) || sub.Finished() {
				t.Fatalf("follower on b: woken %v, finished %v; want woken, not finished", woken(sub), sub.Finished())
			}
			if got, _ := readAt(t, logsB, id, model.Stdout, 0); got != "hello\n" {
				t.Errorf("b reads %q, want hello", got)
			}
			mustFinish(t, logsA, id)
			relayB.TestSignals.Received.Wait(t)
			if !woken(sub) || !sub.Finished() {
				t.Errorf("follower on b not told of the finish")
			}
			// a skips its own messages: its followers were woken directly.
			select {
			case n := <-relayA.TestSignals.Received.Chan():
				t.Errorf("a took %d instances from its own message", n)
			default:
			}
		})
	}
}
