package lifecycle

import (
	"context"
	"errors"
	"testing"
	"time"
)

// svc is a minimal service on Base; fail makes its goroutine end at once
// without calling started first.
type svc struct {
	Base
	fail bool
}

func (s *svc) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := s.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		defer stopped()
		if s.fail {
			return
		}
		started()
		<-ctx.Done()
	}()
	return nil
}

func TestBase(t *testing.T) {
	t.Parallel()

	t.Run("StopBeforeStartIsSafe", func(t *testing.T) {
		t.Parallel()
		var s svc
		s.Stop()
		s.Stop()
	})

	t.Run("StartedClosesAndRestarts", func(t *testing.T) {
		t.Parallel()
		var s svc
		early := s.Started()
		for range 3 {
			if err := s.Start(context.Background()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			select {
			case <-s.Started():
			case <-time.After(5 * time.Second):
				t.Fatalf("Started not closed")
			}
			s.Stop()
		}
		select {
		case <-early:
		default:
			t.Errorf("a Started channel taken before the first Start was never closed")
		}
	})

	t.Run("StoppedBeforeStartedDoesNotPanicOnRestart", func(t *testing.T) {
		t.Parallel()
		s := &svc{fail: true}
		for range 5 {
			if err := s.Start(context.Background()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			<-s.Started()
			s.Stop()
		}
	})

	t.Run("StopCancelsWithCause", func(t *testing.T) {
		t.Parallel()
		var b Base
		ctx, ok, started, stopped := b.StartInit(context.Background())
		if !ok {
			t.Fatalf("StartInit refused a first start")
		}
		done := make(chan struct{})
		go func() { defer close(done); started(); <-ctx.Done(); stopped() }()
		b.Stop()
		<-done
		if !errors.Is(context.Cause(ctx), ErrStopped) || !IsStop(ctx, ctx.Err()) {
			t.Errorf("cause = %v, want ErrStopped", context.Cause(ctx))
		}
	})
}
