package sched

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func TestPace(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		res     dispatchResult
		backlog bool
		want    time.Duration
	}{
		{"NothingPlacedOrLeft", dispatchResult{}, false, maxPace},
		{"LongLead", dispatchResult{dispatched: 3, leads: true, minLead: time.Second}, false, maxPace},
		{"ShortLead", dispatchResult{dispatched: 3, leads: true, minLead: 8 * time.Millisecond}, false, 8 * time.Millisecond / paceLeadDivisor},
		{"DueWorkLeft", dispatchResult{dispatched: 3, leads: true, minLead: -time.Millisecond}, false, 0},
		{"NoFreeSlot", dispatchResult{starved: true}, false, 0},
		{"Backlog", dispatchResult{dispatched: 3, leads: true, minLead: time.Second}, true, 0},
		{"FullBatch", dispatchResult{dispatched: 100, full: true, leads: true, minLead: time.Second}, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := pace(c.res, c.backlog); got != c.want {
				t.Errorf("pace(%+v, backlog %v) = %v, want %v", c.res, c.backlog, got, c.want)
			}
		})
	}
}

// claimNothingStore is a countingStore whose transactions claim nothing.
type claimNothingStore struct{ *countingStore }

func (s claimNothingStore) Begin(ctx context.Context) (store.Tx, error) {
	if _, err := s.countingStore.Begin(ctx); err != nil {
		return nil, err
	}
	return claimNothingTx{}, nil
}

type claimNothingTx struct{ nopTx }

func (claimNothingTx) TaskClaimDue(context.Context, *store.TaskClaimDueParams) ([]*model.Task, error) {
	return nil, nil
}

// TestFreedSlotsArePaced: a freed slot's pass waits for the pace after the
// last pass began; a Wake, and a freed slot once the pace has passed, start
// one at once.
func TestFreedSlotsArePaced(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		pool := &emptyPool{free: 1}
		d := NewDispatcher(DispatcherConfig{Horizon: 5 * time.Second, Interval: time.Minute, Batch: 10, AckTimeout: time.Second},
			claimNothingStore{newCountingStore()}, pool, nil, lifecycletest.WarnLogger(t))
		start := time.Now()
		if err := d.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(d.Stop)
		synctest.Wait()
		// The first pass found a free slot and nothing due: no backlog, so
		// freed slots are paced by maxPace.
		d.SlotFreed()
		synctest.Wait()
		if n := len(pool.passTimes()); n != 1 {
			t.Fatalf("%d passes right after a freed slot, want 1 (the start's)", n)
		}
		time.Sleep(maxPace)
		synctest.Wait()
		passes := pool.passTimes()
		if len(passes) != 2 || passes[1].Sub(start) != maxPace {
			t.Fatalf("passes at %v, want the second at +%v", offsets(passes, start), maxPace)
		}
		// A Wake cuts the pace short.
		time.Sleep(time.Millisecond)
		d.SlotFreed()
		synctest.Wait()
		d.Wake()
		synctest.Wait()
		passes = pool.passTimes()
		if len(passes) != 3 || passes[2].Sub(start) != maxPace+time.Millisecond {
			t.Fatalf("passes at %v, want the third at +%v", offsets(passes, start), maxPace+time.Millisecond)
		}
		// Once the pace has passed, a freed slot's pass starts at once.
		time.Sleep(time.Second)
		d.SlotFreed()
		synctest.Wait()
		passes = pool.passTimes()
		if want := maxPace + time.Millisecond + time.Second; len(passes) != 4 || passes[3].Sub(start) != want {
			t.Fatalf("passes at %v, want the fourth at once (+%v)", offsets(passes, start), want)
		}
	})
}

func offsets(ts []time.Time, start time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(start)
	}
	return out
}
