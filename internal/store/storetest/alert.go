package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// AlertRule inserts a webhook rule for every event of namespace "default"
// (or of job, when set) and returns it.
func AlertRule(t testing.TB, exec store.Executor, job *uuid.UUID, target string) *model.AlertRule {
	t.Helper()
	r, err := exec.AlertRuleInsert(t.Context(), &store.AlertRuleInsertParams{
		ID: newID(), Channel: model.AlertWebhook, Enabled: true, Events: model.AlertEvents, JobID: job,
		Name: "rule", Namespace: "default", Secret: "s3cret", Target: target,
	})
	if err != nil {
		t.Fatalf("AlertRuleInsert: %v", err)
	}
	return r
}

func exerciseAlert(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("RuleCRUD", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		params := &store.AlertRuleInsertParams{
			ID: newID(), Channel: model.AlertEmail, Enabled: true, Events: []model.AlertEvent{model.AlertFailure, model.AlertTimeout},
			JobID: &job.ID, Name: "ops", Namespace: job.Namespace, Now: &bundle.now, Secret: "", Target: "a@example.com,b@example.com",
		}
		got, err := bundle.exec.AlertRuleInsert(ctx, params)
		if err != nil {
			t.Fatalf("AlertRuleInsert: %v", err)
		}
		checkUTC(t, "AlertRuleInsert", &got.CreatedAt, &got.UpdatedAt)
		if got.ID != params.ID || got.JobID == nil || *got.JobID != job.ID || got.Name != "ops" || got.Channel != model.AlertEmail ||
			len(got.Events) != 2 || got.Events[1] != model.AlertTimeout || !got.Enabled || !sameTime(got.CreatedAt, bundle.now) {
			t.Errorf("AlertRuleInsert = %+v, want the params back", got)
		}
		got, err = bundle.exec.AlertRuleGetByID(ctx, &store.AlertRuleGetByIDParams{ID: params.ID})
		if err != nil || got.Target != params.Target {
			t.Fatalf("AlertRuleGetByID = %+v, %v; want target %q", got, err, params.Target)
		}
		up, err := bundle.exec.AlertRuleUpdate(ctx, &store.AlertRuleUpdateParams{
			ID: params.ID, Channel: model.AlertWebhook, Enabled: false, Events: []model.AlertEvent{model.AlertAgentLost},
			Name: "ops2", Now: bundle.at(time.Minute), Secret: "k", Target: "http://x",
		})
		if err != nil {
			t.Fatalf("AlertRuleUpdate: %v", err)
		}
		if up.JobID != nil || up.Enabled || up.Secret != "k" || up.Name != "ops2" || !sameTime(up.UpdatedAt, *bundle.at(time.Minute)) || !sameTime(up.CreatedAt, bundle.now) {
			t.Errorf("AlertRuleUpdate = %+v, want every field replaced and created_at kept", up)
		}
		AlertRule(t, bundle.exec, nil, "http://other")
		other, err := bundle.exec.AlertRuleInsert(ctx, &store.AlertRuleInsertParams{ID: newID(), Channel: model.AlertWebhook, Events: model.AlertEvents, Namespace: "elsewhere", Target: "http://y"})
		if err != nil {
			t.Fatalf("AlertRuleInsert(elsewhere): %v", err)
		}
		all, err := bundle.exec.AlertRuleList(ctx, &store.AlertRuleListParams{})
		if err != nil || len(all) != 3 {
			t.Fatalf("AlertRuleList(all) = %d rules, %v; want 3", len(all), err)
		}
		some, err := bundle.exec.AlertRuleList(ctx, &store.AlertRuleListParams{Namespace: "elsewhere"})
		if err != nil || len(some) != 1 || some[0].ID != other.ID {
			t.Fatalf("AlertRuleList(elsewhere) = %v, %v; want only %s", some, err, other.ID)
		}
		if _, err := bundle.exec.AlertRuleDelete(ctx, &store.AlertRuleDeleteParams{ID: params.ID}); err != nil {
			t.Fatalf("AlertRuleDelete: %v", err)
		}
		_, err = bundle.exec.AlertRuleGetByID(ctx, &store.AlertRuleGetByIDParams{ID: params.ID})
		checkErrIs(t, "AlertRuleGetByID(deleted)", err, store.ErrNotFound)
		_, err = bundle.exec.AlertRuleDelete(ctx, &store.AlertRuleDeleteParams{ID: params.ID})
		checkErrIs(t, "AlertRuleDelete(deleted)", err, store.ErrNotFound)
		_, err = bundle.exec.AlertRuleUpdate(ctx, &store.AlertRuleUpdateParams{ID: params.ID, Channel: model.AlertWebhook})
		checkErrIs(t, "AlertRuleUpdate(deleted)", err, store.ErrNotFound)
	})

	t.Run("RuleOfUnknownJobIsNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.AlertRuleInsert(ctx, &store.AlertRuleInsertParams{ID: newID(), Channel: model.AlertWebhook, JobID: ptr(newID()), Namespace: "default", Target: "http://x"})
		checkErrIs(t, "AlertRuleInsert(unknown job)", err, store.ErrNotFound)
	})

	t.Run("DeliveriesClaimedOnceThenRecorded", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		rule := AlertRule(t, bundle.exec, nil, "http://x")
		items := []*store.AlertDeliveryInsert{
			{ID: newID(), Event: model.AlertFailure, Payload: json.RawMessage(`{"n":1}`), RuleID: rule.ID},
			{ID: newID(), Event: model.AlertAgentLost, Payload: json.RawMessage(`{"n":2}`), RuleID: rule.ID},
		}
		n, err := bundle.exec.AlertDeliveryInsertMany(ctx, &store.AlertDeliveryInsertManyParams{Items: items, Now: &bundle.now})
		if err != nil || n != 2 {
			t.Fatalf("AlertDeliveryInsertMany = %d, %v; want 2", n, err)
		}
		_, err = bundle.exec.AlertDeliveryInsertMany(ctx, &store.AlertDeliveryInsertManyParams{Items: []*store.AlertDeliveryInsert{{ID: newID(), Event: model.AlertFailure, Payload: json.RawMessage(`{}`), RuleID: newID()}}})
		checkErrIs(t, "AlertDeliveryInsertMany(unknown rule)", err, store.ErrNotFound)

		claimed, err := bundle.exec.AlertDeliveryClaim(ctx, &store.AlertDeliveryClaimParams{Lease: time.Minute, Limit: 1, Now: bundle.at(time.Second)})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("AlertDeliveryClaim(limit 1) = %d, %v; want 1", len(claimed), err)
		}
		first := claimed[0]
		var payload map[string]int
		if err := json.Unmarshal(first.Payload, &payload); err != nil || first.Attempts != 1 || first.Status != model.AlertPending ||
			!sameTime(first.NextAttemptAt, *bundle.at(time.Second + time.Minute)) {
			t.Errorf("claimed = %+v (payload %v, %v), want attempt 1, pending, next attempt after the lease", first, payload, err)
		}
		claimed, err = bundle.exec.AlertDeliveryClaim(ctx, &store.AlertDeliveryClaimParams{Lease: time.Minute, Limit: 10, Now: bundle.at(2 * time.Second)})
		if err != nil || len(claimed) != 1 || claimed[0].ID == first.ID {
			t.Fatalf("second AlertDeliveryClaim = %v, %v; want only the other delivery", claimed, err)
		}
		n, err = bundle.exec.AlertDeliverySetResultIf(ctx, &store.AlertDeliverySetResultIfParams{ID: first.ID, Status: model.AlertSent, Now: bundle.at(3 * time.Second)})
		if err != nil || n != 1 {
			t.Fatalf("AlertDeliverySetResultIf(sent) = %d, %v; want 1", n, err)
		}
		n, err = bundle.exec.AlertDeliverySetResultIf(ctx, &store.AlertDeliverySetResultIfParams{ID: first.ID, Status: model.AlertFailed, LastError: "late"})
		if err != nil || n != 0 {
			t.Errorf("AlertDeliverySetResultIf(already sent) = %d, %v; want 0", n, err)
		}
		retryAt := bundle.at(10 * time.Second)
		if _, err := bundle.exec.AlertDeliverySetResultIf(ctx, &store.AlertDeliverySetResultIfParams{ID: claimed[0].ID, Status: model.AlertPending, LastError: "HTTP 500", NextAttemptAt: retryAt}); err != nil {
			t.Fatalf("AlertDeliverySetResultIf(retry): %v", err)
		}
		claimed, err = bundle.exec.AlertDeliveryClaim(ctx, &store.AlertDeliveryClaimParams{Lease: time.Minute, Limit: 10, Now: bundle.at(9 * time.Second)})
		if err != nil || len(claimed) != 0 {
			t.Fatalf("AlertDeliveryClaim before the retry = %v, %v; want none", claimed, err)
		}
		claimed, err = bundle.exec.AlertDeliveryClaim(ctx, &store.AlertDeliveryClaimParams{Lease: time.Minute, Limit: 10, Now: retryAt})
		if err != nil || len(claimed) != 1 || claimed[0].Attempts != 2 || claimed[0].LastError != "HTTP 500" {
			t.Fatalf("AlertDeliveryClaim at the retry = %v, %v; want the delivery at attempt 2", claimed, err)
		}
		list, err := bundle.exec.AlertDeliveryList(ctx, &store.AlertDeliveryListParams{RuleID: rule.ID})
		if err != nil || len(list) != 2 {
			t.Fatalf("AlertDeliveryList = %d, %v; want 2", len(list), err)
		}
		for _, d := range list {
			if d.ID == first.ID && (d.Status != model.AlertSent || d.SentAt == nil || !sameTime(*d.SentAt, *bundle.at(3 * time.Second))) {
				t.Errorf("sent delivery = %+v, want sent at +3s", d)
			}
		}
		if _, err := bundle.exec.AlertRuleDelete(ctx, &store.AlertRuleDeleteParams{ID: rule.ID}); err != nil {
			t.Fatalf("AlertRuleDelete: %v", err)
		}
		if list, err = bundle.exec.AlertDeliveryList(ctx, &store.AlertDeliveryListParams{RuleID: rule.ID}); err != nil || len(list) != 0 {
			t.Errorf("AlertDeliveryList after the rule's delete = %d, %v; want 0", len(list), err)
		}
	})

	t.Run("ConcurrentClaimsNeverShareADelivery", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		rule := AlertRule(t, bundle.exec, nil, "http://x")
		const n = 40
		items := make([]*store.AlertDeliveryInsert, n)
		for i := range items {
			items[i] = &store.AlertDeliveryInsert{ID: newID(), Event: model.AlertFailure, Payload: json.RawMessage(`{}`), RuleID: rule.ID}
		}
		if _, err := bundle.exec.AlertDeliveryInsertMany(ctx, &store.AlertDeliveryInsertManyParams{Items: items, Now: &bundle.now}); err != nil {
			t.Fatalf("AlertDeliveryInsertMany: %v", err)
		}
		var (
			mu   sync.Mutex
			seen = map[uuid.UUID]int{}
			wg   sync.WaitGroup
		)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := bundle.exec.AlertDeliveryClaim(ctx, &store.AlertDeliveryClaimParams{Lease: time.Hour, Limit: 3, Now: bundle.at(time.Second)})
					if err != nil {
						t.Errorf("AlertDeliveryClaim: %v", err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, d := range got {
						seen[d.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("claimed %d distinct deliveries, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("delivery %s claimed %d times, want once", id, c)
			}
		}
	})
}
