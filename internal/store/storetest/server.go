package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseServer(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("UpsertRegistersActiveServer", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		got, err := bundle.exec.ServerUpsert(ctx, &store.ServerUpsertParams{ID: "server-a", Address: "10.0.0.1:9500", Now: &bundle.now, Version: "1.0.0"})
		if err != nil {
			t.Fatalf("ServerUpsert: %v", err)
		}
		want := &model.Server{
			ID: "server-a", Address: "10.0.0.1:9500", Status: model.ServerActive, Version: "1.0.0",
			StartedAt: bundle.now, LastHeartbeatAt: bundle.now, CreatedAt: bundle.now,
		}
		checkServer(t, "ServerUpsert", got, want)
		stored, err := bundle.exec.ServerGetByID(ctx, &store.ServerGetByIDParams{ID: "server-a"})
		if err != nil {
			t.Fatalf("ServerGetByID: %v", err)
		}
		checkServer(t, "ServerGetByID", stored, want)
	})

	t.Run("UpsertUpdatesRestartedServer", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		if _, err := bundle.exec.ServerUpsert(ctx, &store.ServerUpsertParams{ID: "server-a", Address: "10.0.0.1:9500", Now: &bundle.now, Version: "1.0.0"}); err != nil {
			t.Fatalf("ServerUpsert: %v", err)
		}
		got, err := bundle.exec.ServerUpsert(ctx, &store.ServerUpsertParams{ID: "server-a", Address: "10.0.0.2:9500", Now: bundle.at(time.Hour), Version: "1.1.0"})
		if err != nil {
			t.Fatalf("ServerUpsert(again): %v", err)
		}
		checkServer(t, "ServerUpsert(again)", got, &model.Server{
			ID: "server-a", Address: "10.0.0.2:9500", Status: model.ServerActive, Version: "1.1.0",
			StartedAt: *bundle.at(time.Hour), LastHeartbeatAt: *bundle.at(time.Hour), CreatedAt: bundle.now,
		})
	})

	t.Run("Heartbeat", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		server, err := bundle.exec.ServerUpsert(ctx, &store.ServerUpsertParams{ID: "server-a", Now: &bundle.now})
		if err != nil {
			t.Fatalf("ServerUpsert: %v", err)
		}
		n, err := bundle.exec.ServerHeartbeat(ctx, &store.ServerHeartbeatParams{ID: "server-a", Now: bundle.at(time.Second)})
		if err != nil || n != 1 {
			t.Fatalf("ServerHeartbeat = %d, %v, want 1, nil", n, err)
		}
		want := *server
		want.LastHeartbeatAt = *bundle.at(time.Second)
		got, err := bundle.exec.ServerGetByID(ctx, &store.ServerGetByIDParams{ID: "server-a"})
		if err != nil {
			t.Fatalf("ServerGetByID: %v", err)
		}
		checkServer(t, "server after heartbeat", got, &want)
		n, err = bundle.exec.ServerHeartbeat(ctx, &store.ServerHeartbeatParams{ID: "nobody"})
		if err != nil || n != 0 {
			t.Errorf("ServerHeartbeat(unknown) = %d, %v, want 0, nil", n, err)
		}
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.ServerGetByID(ctx, &store.ServerGetByIDParams{ID: "nobody"})
		checkErrIs(t, "ServerGetByID(unknown)", err, store.ErrNotFound)
	})
}

// checkServer compares two servers, times to the microsecond, and checks
// that the times are UTC.
func checkServer(t *testing.T, what string, got, want *model.Server) {
	t.Helper()
	checkUTC(t, what, &got.StartedAt, &got.LastHeartbeatAt, &got.CreatedAt)
	g, w := *got, *want
	if !sameTime(g.StartedAt, w.StartedAt) || !sameTime(g.LastHeartbeatAt, w.LastHeartbeatAt) || !sameTime(g.CreatedAt, w.CreatedAt) {
		t.Errorf("%s: StartedAt, LastHeartbeatAt, CreatedAt = %v, %v, %v, want %v, %v, %v", what,
			g.StartedAt, g.LastHeartbeatAt, g.CreatedAt, w.StartedAt, w.LastHeartbeatAt, w.CreatedAt)
	}
	g.StartedAt, g.LastHeartbeatAt, g.CreatedAt = time.Time{}, time.Time{}, time.Time{}
	w.StartedAt, w.LastHeartbeatAt, w.CreatedAt = time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v, want %+v", what, g, w)
	}
}
