package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// serverHeartbeat keeps this server's registry row fresh. A heartbeat that
// fails means this server cannot reach the database: onLost then sends its
// agents to servers that can, since nothing they report here can be stored
// and the cluster would soon judge them gone.
type serverHeartbeat struct {
	lifecycle.Base
	store    store.Store
	id       string
	interval time.Duration
	onLost   func(ctx context.Context, err error)
	// ttl is how long a silent server still counts as alive; peers says
	// whether another one is.
	ttl   time.Duration
	peers *atomic.Bool
	log   *slog.Logger
}

func (h *serverHeartbeat) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := h.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped()
		// Registered before it starts, so a server alone learns so now
		// rather than publishing for nobody until the first tick.
		h.countPeers(ctx)
		t := time.NewTicker(h.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			hctx, cancel := context.WithTimeout(ctx, h.interval)
			_, err := h.store.ServerHeartbeat(hctx, &store.ServerHeartbeatParams{ID: h.id})
			cancel()
			if err != nil && !lifecycle.IsStop(ctx, err) {
				h.log.WarnContext(ctx, "server heartbeat", "error", err)
				if h.onLost != nil {
					h.onLost(ctx, err)
				}
				continue
			}
			h.countPeers(ctx)
		}
	}()
	return nil
}

// countPeers notes whether another server is alive, so a server alone does
// not publish on the bus for nobody.
func (h *serverHeartbeat) countPeers(ctx context.Context) {
	if h.peers == nil {
		return
	}
	alive := time.Now().Add(-h.ttl)
	n, err := h.store.ServerCount(ctx, &store.ServerCountParams{Filter: store.Filter{
		{Field: "status", Op: store.OpEq, Value: int64(model.ServerActive)},
		{Field: "last_heartbeat_at", Op: store.OpGte, Value: alive},
	}})
	if err != nil {
		return // keep the last answer
	}
	h.peers.Store(n > 1)
}
