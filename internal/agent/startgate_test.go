package agent

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestStartGate(t *testing.T) {
	t.Parallel()

	// holdAsync runs one hold and reports when it returned, on the bubble's
	// clock.
	holdAsync := func(ctx context.Context, g *startGate, spell *time.Time) <-chan time.Duration {
		out := make(chan time.Duration, 1)
		begin := time.Now()
		go func() {
			if err := g.hold(ctx, spell); err != nil {
				out <- -1
				return
			}
			out <- time.Since(begin)
		}()
		return out
	}

	t.Run("NothingStartingHoldsNothing", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			g := newStartGate()
			spell := time.Now() // left over from an earlier spell
			if got := <-holdAsync(t.Context(), g, &spell); got != 0 {
				t.Errorf("held %v with nothing starting", got)
			}
			if !spell.IsZero() {
				t.Errorf("spell = %v, want it reset between spells", spell)
			}
		})
	})

	t.Run("HoldsUntilTheLastStart", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			g := newStartGate()
			g.firing()
			g.firing()
			var spell time.Time
			done := holdAsync(t.Context(), g, &spell)
			time.Sleep(10 * time.Millisecond)
			g.started()
			synctest.Wait()
			select {
			case got := <-done:
				t.Fatalf("hold returned after %v with a start still pending", got)
			default:
			}
			time.Sleep(20 * time.Millisecond)
			g.started()
			if got := <-done; got != 30*time.Millisecond {
				t.Errorf("held %v, want 30ms: until the second start", got)
			}
			if !spell.IsZero() {
				t.Errorf("spell = %v, want it over once every run started", spell)
			}
		})
	})

	t.Run("HoldsAtMostMaxOncePerSpell", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			g := newStartGate()
			g.firing() // a start that takes long
			var spell time.Time
			if got := <-holdAsync(t.Context(), g, &spell); got != maxReportHold {
				t.Errorf("first hold = %v, want %v", got, maxReportHold)
			}
			// Still starting, same spell: reports flow.
			if got := <-holdAsync(t.Context(), g, &spell); got != 0 {
				t.Errorf("second hold in the same spell = %v, want 0", got)
			}
			g.started()
			if got := <-holdAsync(t.Context(), g, &spell); got != 0 || !spell.IsZero() {
				t.Errorf("after the start: held %v, spell %v; want 0 and a reset spell", got, spell)
			}
			// A new spell holds again.
			g.firing()
			done := holdAsync(t.Context(), g, &spell)
			time.Sleep(time.Millisecond)
			g.started()
			if got := <-done; got != time.Millisecond {
				t.Errorf("hold of a new spell = %v, want 1ms", got)
			}
		})
	})

	t.Run("EndsWithTheContext", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			g := newStartGate()
			g.firing()
			ctx, cancel := context.WithCancelCause(t.Context())
			stop := errors.New("stopping")
			var spell time.Time
			errc := make(chan error, 1)
			go func() { errc <- g.hold(ctx, &spell) }()
			time.Sleep(time.Millisecond)
			cancel(stop)
			if err := <-errc; !errors.Is(err, stop) {
				t.Errorf("hold = %v, want the context's cause", err)
			}
		})
	})
}
