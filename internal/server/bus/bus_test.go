package bus

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func TestBus(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testBus(t, o.Open(t))
		})
	}
}

func startBus(t *testing.T, st store.Store, id string) *Bus {
	t.Helper()
	b := New(st, id, lifecycletest.WarnLogger(t))
	b.TestSignals.Init()
	return b
}

func testBus(t *testing.T, st store.Store) {
	ctx := t.Context()
	a, b := startBus(t, st, "a"), startBus(t, st, "b")
	got := make(chan Message, 100)
	caughtUp := make(chan struct{}, 10)
	for _, bus := range []*Bus{a, b} {
		bus.Handle(Cancel, func(_ context.Context, m Message) { got <- m })
		bus.Handle(Work, func(_ context.Context, m Message) { got <- m })
	}
	b.OnConnect(func(context.Context) { caughtUp <- struct{}{} })
	for _, bus := range []*Bus{a, b} {
		if err := bus.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(bus.Stop)
		bus.TestSignals.Connected.Wait(t)
	}
	select {
	case <-caughtUp:
	case <-time.After(5 * time.Second):
		t.Fatal("OnConnect did not run")
	}
	id := uuid.New()
	if err := a.Publish(ctx, Message{Kind: Cancel, AgentID: "agent-1", InstanceID: id, Reason: "stop"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	select {
	case m := <-got:
		if m.Kind != Cancel || m.From != "a" || m.AgentID != "agent-1" || m.InstanceID != id || m.Reason != "stop" {
			t.Errorf("received %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other server did not receive the message")
	}
	// A burst of Work is one message now and one trailing message.
	for range 50 {
		if err := a.Publish(ctx, Message{Kind: Work}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	works := 0
	timeout := time.After(2 * time.Second)
wait:
	for {
		select {
		case m := <-got:
			if m.From == "a" && m.Kind == Work {
				works++
			}
		case <-timeout:
			break wait
		}
	}
	if works < 1 || works > 2 {
		t.Errorf("a burst of 50 work messages arrived as %d, want 1 or 2", works)
	}
	// The sender does not hear itself: only b's handler got a's messages.
	select {
	case m := <-got:
		t.Errorf("unexpected message %+v", m)
	default:
	}
}

func TestBusLifecycle(t *testing.T) {
	t.Parallel()
	st := teststore.SQLite(t)
	lifecycletest.Stress(t.Context(), t, New(st, "s", lifecycletest.WarnLogger(t)))
	lifecycletest.CanRestart(t.Context(), t, New(st, "s", lifecycletest.WarnLogger(t)))
}
