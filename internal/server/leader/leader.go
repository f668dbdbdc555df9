// Package leader elects one server to run the work only one may do at a time
// (planning and housekeeping), by a lease row in the shared database with a
// fencing epoch (DESIGN §5). The lease uses the database's clock, so the
// servers' clocks do not matter.
//
// The leader renews its lease every third of the TTL and gives up the lead
// at once when a renewal fails for any reason, a lost database included:
// the services it runs stop before the lease can expire. Its writes check
// the lease inside their transaction ([Elector.Fence]), so a deposed leader
// that has not noticed yet cannot write. A graceful stop releases the lease,
// so another server takes over without waiting for it to expire.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// LeaseName is the scheduler's lease.
const LeaseName = "scheduler"

// ErrNotLeader is returned by Fence when this server does not hold the
// lease (any more).
var ErrNotLeader = errors.New("leader: not the leader")

// Config configures an [Elector].
type Config struct {
	// ServerID holds the lease.
	ServerID string
	// TTL is the lease: how long a leader that stopped renewing keeps it,
	// so the longest a takeover waits after a crash.
	TTL time.Duration
	// Eligible is false for a server that must never lead
	// (allow_leader_election = false); it only watches.
	Eligible bool
}

// TestSignals lets tests wait for changes of lead.
type TestSignals struct {
	Elected testsignal.Signal[int64] // epoch
	Deposed testsignal.Signal[int64] // epoch given up
}

// Init enables the signals.
func (s *TestSignals) Init() { s.Elected.Init(); s.Deposed.Init() }

// Elector campaigns for the lease and runs services while it holds it.
type Elector struct {
	lifecycle.Base
	cfg      Config
	store    store.Store
	services []lifecycle.Service
	onChange func(leading bool)
	log      *slog.Logger
	wake     chan struct{}

	mu      sync.Mutex
	epoch   int64 // held epoch; 0 when not leading
	running bool  // services started for the held epoch

	TestSignals TestSignals
}

// New returns an Elector that runs services (in order; stopped in reverse)
// while it leads. onChange, if set, is called after each change of lead.
func New(cfg Config, st store.Store, services []lifecycle.Service, onChange func(leading bool), logger *slog.Logger) *Elector {
	if st == nil || logger == nil || cfg.ServerID == "" || cfg.TTL <= 0 {
		panic(fmt.Sprintf("leader: bad config %+v", cfg))
	}
	if onChange == nil {
		onChange = func(bool) {}
	}
	return &Elector{cfg: cfg, store: st, services: services, onChange: onChange, log: logger, wake: make(chan struct{}, 1)}
}

// SetServices sets the services run while leading, before Start.
func (e *Elector) SetServices(services ...lifecycle.Service) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.services = services
}

// Wake asks for a campaign now, for example because the leader released
// the lease. It never blocks.
func (e *Elector) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Leading returns the held epoch, or 0.
func (e *Elector) Leading() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.epoch
}

// Fence checks, inside the caller's transaction, that this server still
// holds the lease at the epoch its services run under, and keeps the lease
// from changing hands until the transaction ends. Leader services call it
// first in every transaction that writes.
func (e *Elector) Fence(ctx context.Context, ex store.Executor) error {
	epoch := e.Leading()
	if epoch == 0 {
		return ErrNotLeader
	}
	err := ex.LeaderFence(ctx, &store.LeaderFenceParams{Name: LeaseName, Holder: e.cfg.ServerID, Epoch: epoch})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: lease lost at epoch %d", ErrNotLeader, epoch)
	}
	return err
}

// Start campaigns until ctx ends or Stop is called. On stop it stops the
// services and releases the lease.
func (e *Elector) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := e.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped()
		defer e.resign(context.WithoutCancel(ctx))
		renew := e.cfg.TTL / 3
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-e.wake:
			}
			e.campaign(ctx, renew)
			t.Reset(renew)
		}
	}()
	return nil
}

// campaign renews a held lease or tries to take a free one. Each call is
// bounded by the renew period, so a hung database deposes the leader well
// before its lease can expire elsewhere.
func (e *Elector) campaign(ctx context.Context, bound time.Duration) {
	if !e.cfg.Eligible {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	if epoch := e.Leading(); epoch != 0 {
		_, err := e.store.LeaderRenew(cctx, &store.LeaderRenewParams{Name: LeaseName, Holder: e.cfg.ServerID, Epoch: epoch, TTL: e.cfg.TTL})
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return // stopping: resign handles it
		}
		e.log.WarnContext(ctx, "lost the lead", "epoch", epoch, "error", err)
		e.stepDown(ctx)
		e.onChange(false)
		return
	}
	l, err := e.store.LeaderAcquire(cctx, &store.LeaderAcquireParams{Name: LeaseName, Holder: e.cfg.ServerID, TTL: e.cfg.TTL})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return // someone else leads
	case err != nil:
		if ctx.Err() == nil {
			e.log.WarnContext(ctx, "leader campaign", "error", err)
		}
		return
	}
	e.mu.Lock()
	e.epoch = l.Epoch
	e.mu.Unlock()
	if err := lifecycle.StartAll(ctx, e.services...); err != nil {
		e.log.ErrorContext(ctx, "start leader services", "epoch", l.Epoch, "error", err)
		e.resign(ctx)
		return
	}
	e.mu.Lock()
	e.running = true
	e.mu.Unlock()
	e.log.InfoContext(ctx, "became the leader", "epoch", l.Epoch)
	e.TestSignals.Elected.Signal(l.Epoch)
	e.onChange(true)
}

// stepDown stops the services and forgets the epoch, whatever the lease
// says: their writes would be refused anyway.
func (e *Elector) stepDown(ctx context.Context) int64 {
	e.mu.Lock()
	epoch, running := e.epoch, e.running
	e.epoch, e.running = 0, false
	e.mu.Unlock()
	if epoch == 0 {
		return 0
	}
	if running {
		for i := len(e.services) - 1; i >= 0; i-- {
			e.services[i].Stop()
		}
	}
	e.log.InfoContext(ctx, "gave up the lead", "epoch", epoch)
	e.TestSignals.Deposed.Signal(epoch)
	return epoch
}

// resign steps down and releases the lease so a successor need not wait for
// it to expire; onChange then tells the others.
func (e *Elector) resign(ctx context.Context) {
	epoch := e.stepDown(ctx)
	if epoch == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := e.store.LeaderRelease(rctx, &store.LeaderReleaseParams{Name: LeaseName, Holder: e.cfg.ServerID, Epoch: epoch}); err != nil {
		e.log.WarnContext(ctx, "release the lead", "epoch", epoch, "error", err)
	}
	e.onChange(false)
}
