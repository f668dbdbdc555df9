package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// exerciseQuery covers the List and Count methods: every filter operator,
// namespace restriction, order and paging.
func exerciseQuery(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("JobFilterOperators", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := func(ns, name, desc string, status model.JobStatus, age time.Duration) *model.Job {
			return Job(ctx, t, bundle.exec, &JobOpts{Namespace: &ns, Name: &name, Description: &desc, Status: &status, Now: bundle.at(-age)})
		}
		alpha := job("team-a", "alpha", "Nightly REPORT", model.JobEnabled, 3*time.Minute)
		beta := job("team-a", "beta_1", "100% done", model.JobDisabled, 2*time.Minute)
		betax := job("team-b", "betax1", "", model.JobCreated, time.Minute)
		gamma := job("team-b", "gamma", "report nightly", model.JobEnabled, 0)
		ids := func(jobs ...*model.Job) []uuid.UUID { return jobIDs(jobs) }

		for _, tt := range []struct {
			name   string
			filter store.Filter
			want   []uuid.UUID // in the default order: newest first
		}{
			{"None", nil, ids(gamma, betax, beta, alpha)},
			{"Eq", store.Filter{{Field: "name", Op: store.OpEq, Value: "alpha"}}, ids(alpha)},
			{"EqUUID", store.Filter{{Field: "id", Op: store.OpEq, Value: beta.ID}}, ids(beta)},
			{"Ne", store.Filter{{Field: "status", Op: store.OpNe, Value: int64(model.JobEnabled)}}, ids(betax, beta)},
			{"In", store.Filter{{Field: "status", Op: store.OpIn, Value: []any{int64(model.JobCreated), int64(model.JobDisabled)}}}, ids(betax, beta)},
			{"InUUID", store.Filter{{Field: "id", Op: store.OpIn, Value: []any{alpha.ID, gamma.ID}}}, ids(gamma, alpha)},
			{"Nin", store.Filter{{Field: "status", Op: store.OpNin, Value: []any{int64(model.JobEnabled)}}}, ids(betax, beta)},
			{"Gt", store.Filter{{Field: "created_at", Op: store.OpGt, Value: *bundle.at(-2 * time.Minute)}}, ids(gamma, betax)},
			{"Gte", store.Filter{{Field: "created_at", Op: store.OpGte, Value: *bundle.at(-2 * time.Minute)}}, ids(gamma, betax, beta)},
			{"Lt", store.Filter{{Field: "created_at", Op: store.OpLt, Value: *bundle.at(-2 * time.Minute)}}, ids(alpha)},
			{"Lte", store.Filter{{Field: "created_at", Op: store.OpLte, Value: *bundle.at(-2 * time.Minute)}}, ids(beta, alpha)},
			{"ContainsIgnoresCase", store.Filter{{Field: "description", Op: store.OpContains, Value: "report"}}, ids(gamma, alpha)},
			{"ContainsPercentLiterally", store.Filter{{Field: "description", Op: store.OpContains, Value: "0%"}}, ids(beta)},
			{"StartsWith", store.Filter{{Field: "name", Op: store.OpStartsWith, Value: "gam"}}, ids(gamma)},
			{"StartsWithIgnoresCase", store.Filter{{Field: "name", Op: store.OpStartsWith, Value: "BETA"}}, ids(betax, beta)},
			{"StartsWithUnderscoreLiterally", store.Filter{{Field: "name", Op: store.OpStartsWith, Value: "beta_"}}, ids(beta)},
			{"And", store.Filter{
				{Field: "namespace", Op: store.OpEq, Value: "team-b"},
				{Field: "status", Op: store.OpEq, Value: int64(model.JobEnabled)},
			}, ids(gamma)},
			{"NoMatch", store.Filter{{Field: "name", Op: store.OpEq, Value: "nobody"}}, nil},
		} {
			checkJobQuery(ctx, t, bundle.exec, tt.name, tt.filter, nil, tt.want)
		}
	})

	t.Run("RestrictsToNamespaces", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		a := Job(ctx, t, bundle.exec, &JobOpts{Namespace: ptr("team-a"), Now: bundle.at(-time.Minute)})
		b := Job(ctx, t, bundle.exec, &JobOpts{Namespace: ptr("team-b"), Now: &bundle.now})
		c := Job(ctx, t, bundle.exec, &JobOpts{Namespace: ptr("team-c"), Now: bundle.at(-2 * time.Minute)})
		enabled := store.Filter{{Field: "status", Op: store.OpEq, Value: int64(model.JobEnabled)}}
		checkJobQuery(ctx, t, bundle.exec, "NilNamespaces", nil, nil, jobIDs([]*model.Job{b, a, c}))
		checkJobQuery(ctx, t, bundle.exec, "OneNamespace", nil, []string{"team-a"}, []uuid.UUID{a.ID})
		checkJobQuery(ctx, t, bundle.exec, "TwoNamespaces", enabled, []string{"team-c", "team-b"}, []uuid.UUID{b.ID, c.ID})
		checkJobQuery(ctx, t, bundle.exec, "EmptyNamespaces", nil, []string{}, nil)
		checkJobQuery(ctx, t, bundle.exec, "UnknownNamespace", nil, []string{"team-z"}, nil)
	})

	t.Run("OrdersAndPages", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		names := []string{"delta", "alpha", "charlie", "bravo"}
		jobs := map[string]*model.Job{}
		for _, name := range names {
			jobs[name] = Job(ctx, t, bundle.exec, &JobOpts{Name: ptr(name), Now: &bundle.now}) // one instant: ties
		}
		byName := jobIDs([]*model.Job{jobs["alpha"], jobs["bravo"], jobs["charlie"], jobs["delta"]})
		byID := slices.Clone(byName)
		slices.SortFunc(byID, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		for _, tt := range []struct {
			name          string
			order         []store.Order
			limit, offset int
			want          []uuid.UUID
		}{
			{"DefaultOrderBreaksTiesByID", nil, 0, 0, byID},
			{"ByName", []store.Order{{Field: "name"}}, 0, 0, byName},
			{"ByNameDesc", []store.Order{{Field: "name", Desc: true}}, 0, 0, reversed(byName)},
			{"ByIDDesc", []store.Order{{Field: "id", Desc: true}}, 0, 0, reversed(byID)},
			{"TieThenName", []store.Order{{Field: "created_at"}, {Field: "name", Desc: true}}, 0, 0, reversed(byName)},
			{"Limit", []store.Order{{Field: "name"}}, 2, 0, byName[:2]},
			{"LimitOffset", []store.Order{{Field: "name"}}, 2, 1, byName[1:3]},
			{"OffsetPastEnd", []store.Order{{Field: "name"}}, 2, 10, nil},
		} {
			got, err := bundle.exec.JobList(ctx, &store.JobListParams{OrderBy: tt.order, Limit: tt.limit, Offset: tt.offset})
			if err != nil {
				t.Fatalf("JobList(%s): %v", tt.name, err)
			}
			checkIDs(t, "JobList("+tt.name+")", jobIDs(got), tt.want)
		}
	})

	t.Run("DefaultPageLimit", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		for range store.DefaultPageLimit + 1 {
			Job(ctx, t, bundle.exec, nil)
		}
		got, err := bundle.exec.JobList(ctx, &store.JobListParams{})
		if err != nil {
			t.Fatalf("JobList: %v", err)
		}
		checkCount(t, "len(JobList(limit 0))", len(got), store.DefaultPageLimit)
		n, err := bundle.exec.JobCount(ctx, &store.JobCountParams{})
		if err != nil {
			t.Fatalf("JobCount: %v", err)
		}
		checkCount(t, "JobCount", n, store.DefaultPageLimit+1)
	})

	t.Run("RejectsUnknownField", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		if _, err := bundle.exec.JobList(ctx, &store.JobListParams{Filter: store.Filter{{Field: "nope", Op: store.OpEq, Value: "x"}}}); err == nil {
			t.Errorf("JobList(unknown filter field) error = nil, want an error")
		}
		if _, err := bundle.exec.JobCount(ctx, &store.JobCountParams{Filter: store.Filter{{Field: "nope", Op: store.OpEq, Value: "x"}}}); err == nil {
			t.Errorf("JobCount(unknown filter field) error = nil, want an error")
		}
		if _, err := bundle.exec.JobList(ctx, &store.JobListParams{OrderBy: []store.Order{{Field: "nope"}}}); err == nil {
			t.Errorf("JobList(unknown order field) error = nil, want an error")
		}
	})

	t.Run("ScheduleNullAndUUIDFilters", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, &JobOpts{Namespace: ptr("team-a")})
		idle := Schedule(ctx, t, bundle.exec, &ScheduleOpts{JobID: &job.ID, Namespace: ptr("team-a"), Now: bundle.at(-time.Minute)})
		due := Schedule(ctx, t, bundle.exec, &ScheduleOpts{JobID: &job.ID, Namespace: ptr("team-a"), Now: &bundle.now, NextFireAt: &bundle.now})
		Schedule(ctx, t, bundle.exec, &ScheduleOpts{Namespace: ptr("team-b"), NextFireAt: &bundle.now})
		byJob := store.Filter{{Field: "job_id", Op: store.OpEq, Value: job.ID}}
		for _, tt := range []struct {
			name       string
			filter     store.Filter
			namespaces []string
			want       []uuid.UUID
		}{
			{"ByJob", byJob, nil, []uuid.UUID{due.ID, idle.ID}},
			{"NullTrue", append(byJob, store.Cond{Field: "next_fire_at", Op: store.OpNull, Value: true}), nil, []uuid.UUID{idle.ID}},
			{"NullFalse", append(byJob, store.Cond{Field: "next_fire_at", Op: store.OpNull, Value: false}), nil, []uuid.UUID{due.ID}},
			{"NeIncludesNull", append(byJob, store.Cond{Field: "next_fire_at", Op: store.OpNe, Value: bundle.now}), nil, []uuid.UUID{idle.ID}},
			{"KindEnum", store.Filter{{Field: "kind", Op: store.OpEq, Value: int64(model.ScheduleCron)}}, []string{"team-a"}, []uuid.UUID{due.ID, idle.ID}},
			{"OtherNamespace", byJob, []string{"team-b"}, nil},
		} {
			got, err := bundle.exec.ScheduleList(ctx, &store.ScheduleListParams{Filter: tt.filter, Namespaces: tt.namespaces})
			if err != nil {
				t.Fatalf("ScheduleList(%s): %v", tt.name, err)
			}
			checkIDs(t, "ScheduleList("+tt.name+")", scheduleIDs(got), tt.want)
			n, err := bundle.exec.ScheduleCount(ctx, &store.ScheduleCountParams{Filter: tt.filter, Namespaces: tt.namespaces})
			if err != nil {
				t.Fatalf("ScheduleCount(%s): %v", tt.name, err)
			}
			checkCount(t, "ScheduleCount("+tt.name+")", n, len(tt.want))
		}
	})

	t.Run("TaskFilters", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Namespace: ptr("team-a")})
		planned := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &sched.JobID, Namespace: ptr("team-a"), ScheduleID: &sched.ID, ScheduledAt: bundle.at(-time.Minute)})
		manual := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &sched.JobID, Namespace: ptr("team-a"), ScheduledAt: &bundle.now, Status: ptr(model.TaskFailed)})
		Task(ctx, t, bundle.exec, &TaskOpts{Namespace: ptr("team-b"), ScheduledAt: bundle.at(time.Minute)})
		for _, tt := range []struct {
			name   string
			filter store.Filter
			want   []uuid.UUID
		}{
			{"BySchedule", store.Filter{{Field: "schedule_id", Op: store.OpEq, Value: sched.ID}}, []uuid.UUID{planned.ID}},
			{"Manual", store.Filter{{Field: "schedule_id", Op: store.OpNull, Value: true}}, []uuid.UUID{manual.ID}},
			{"FinalStatuses", store.Filter{{Field: "status", Op: store.OpGte, Value: int64(model.TaskFailed)}}, []uuid.UUID{manual.ID}},
			{"FinishedAtSet", store.Filter{{Field: "finished_at", Op: store.OpNull, Value: false}}, []uuid.UUID{manual.ID}},
			{"All", nil, []uuid.UUID{manual.ID, planned.ID}},
		} {
			got, err := bundle.exec.TaskList(ctx, &store.TaskListParams{Filter: tt.filter, Namespaces: []string{"team-a"}})
			if err != nil {
				t.Fatalf("TaskList(%s): %v", tt.name, err)
			}
			checkIDs(t, "TaskList("+tt.name+")", taskIDs(got), tt.want)
			n, err := bundle.exec.TaskCount(ctx, &store.TaskCountParams{Filter: tt.filter, Namespaces: []string{"team-a"}})
			if err != nil {
				t.Fatalf("TaskCount(%s): %v", tt.name, err)
			}
			checkCount(t, "TaskCount("+tt.name+")", n, len(tt.want))
		}
		got, err := bundle.exec.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{{Field: "id", Op: store.OpEq, Value: planned.ID}}})
		if err != nil || len(got) != 1 {
			t.Fatalf("TaskList(by id) = %d tasks, %v, want 1, nil", len(got), err)
		}
		checkTask(t, "TaskList(by id)", got[0], planned)
	})

	t.Run("TaskInstanceFilters", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		mine := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Namespace: ptr("team-a"), Now: &bundle.now})
		theirs := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-b"), Namespace: ptr("team-a"), Now: bundle.at(-time.Minute)})
		TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Namespace: ptr("team-b"), Now: &bundle.now})
		got, err := bundle.exec.TaskInstanceFinishMany(ctx, &store.TaskInstanceFinishManyParams{
			Items: []*store.TaskInstanceFinish{{ID: theirs.ID, ExitCode: ptr(3), Status: model.InstanceFailed}}, Now: &bundle.now,
		})
		if err != nil || len(got) != 1 {
			t.Fatalf("TaskInstanceFinishMany = %d, %v, want 1, nil", len(got), err)
		}
		theirs = got[0]
		for _, tt := range []struct {
			name   string
			filter store.Filter
			want   []uuid.UUID
		}{
			{"ByAgent", store.Filter{{Field: "agent_id", Op: store.OpEq, Value: "agent-a"}}, []uuid.UUID{mine.ID}},
			{"ExitCodeSet", store.Filter{{Field: "exit_code", Op: store.OpNull, Value: false}}, []uuid.UUID{theirs.ID}},
			{"ExitCodeGt", store.Filter{{Field: "exit_code", Op: store.OpGt, Value: int64(0)}}, []uuid.UUID{theirs.ID}},
			{"ByTask", store.Filter{{Field: "task_id", Op: store.OpEq, Value: mine.TaskID}}, []uuid.UUID{mine.ID}},
			{"All", nil, []uuid.UUID{mine.ID, theirs.ID}},
		} {
			list, err := bundle.exec.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: tt.filter, Namespaces: []string{"team-a"}})
			if err != nil {
				t.Fatalf("TaskInstanceList(%s): %v", tt.name, err)
			}
			checkIDs(t, "TaskInstanceList("+tt.name+")", taskInstanceIDs(list), tt.want)
			n, err := bundle.exec.TaskInstanceCount(ctx, &store.TaskInstanceCountParams{Filter: tt.filter, Namespaces: []string{"team-a"}})
			if err != nil {
				t.Fatalf("TaskInstanceCount(%s): %v", tt.name, err)
			}
			checkCount(t, "TaskInstanceCount("+tt.name+")", n, len(tt.want))
		}
		list, err := bundle.exec.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: store.Filter{{Field: "id", Op: store.OpEq, Value: theirs.ID}}})
		if err != nil || len(list) != 1 {
			t.Fatalf("TaskInstanceList(by id) = %d, %v, want 1, nil", len(list), err)
		}
		checkTaskInstance(t, "TaskInstanceList(by id)", list[0], theirs)
	})

	t.Run("AgentFilters", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		busy := Agent(ctx, t, bundle.exec, &AgentOpts{ID: ptr("agent-b"), Labels: map[string]string{"k": "v"}, Now: &bundle.now})
		idle := Agent(ctx, t, bundle.exec, &AgentOpts{ID: ptr("agent-a"), Now: &bundle.now, Status: ptr(model.AgentDraining)})
		if n, err := bundle.exec.AgentHeartbeat(ctx, &store.AgentHeartbeatParams{ID: busy.ID, Load: 0.75, Now: &bundle.now, Running: 3, ServerID: busy.ServerID}); err != nil || n != 1 {
			t.Fatalf("AgentHeartbeat = %d, %v, want 1, nil", n, err)
		}
		busy = getAgent(t, bundle, busy.ID)
		for _, tt := range []struct {
			name   string
			filter store.Filter
			want   []string
		}{
			{"All", nil, []string{idle.ID, busy.ID}},
			{"LoadGte", store.Filter{{Field: "load", Op: store.OpGte, Value: 0.5}}, []string{busy.ID}},
			{"StatusEnum", store.Filter{{Field: "status", Op: store.OpEq, Value: int64(model.AgentDraining)}}, []string{idle.ID}},
			{"IDStartsWith", store.Filter{{Field: "id", Op: store.OpStartsWith, Value: "AGENT-"}}, []string{idle.ID, busy.ID}},
		} {
			got, err := bundle.exec.AgentList(ctx, &store.AgentListParams{Filter: tt.filter})
			if err != nil {
				t.Fatalf("AgentList(%s): %v", tt.name, err)
			}
			checkStrings(t, "AgentList("+tt.name+")", agentIDs(got), tt.want)
			n, err := bundle.exec.AgentCount(ctx, &store.AgentCountParams{Filter: tt.filter})
			if err != nil {
				t.Fatalf("AgentCount(%s): %v", tt.name, err)
			}
			checkCount(t, "AgentCount("+tt.name+")", n, len(tt.want))
		}
		got, err := bundle.exec.AgentList(ctx, &store.AgentListParams{OrderBy: []store.Order{{Field: "running", Desc: true}}, Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("AgentList(busiest) = %d, %v, want 1, nil", len(got), err)
		}
		checkAgent(t, "AgentList(busiest)", got[0], busy)
	})

	t.Run("ServerFilters", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		var want []*model.Server
		for i, id := range []string{"server-b", "server-a", "server-c"} {
			s, err := bundle.exec.ServerUpsert(ctx, &store.ServerUpsertParams{ID: id, Address: fmt.Sprintf("10.0.0.%d:9500", i), Now: bundle.at(time.Duration(i) * time.Second)})
			if err != nil {
				t.Fatalf("ServerUpsert: %v", err)
			}
			want = append(want, s)
		}
		got, err := bundle.exec.ServerList(ctx, &store.ServerListParams{})
		if err != nil || len(got) != 3 {
			t.Fatalf("ServerList = %d, %v, want 3, nil", len(got), err)
		}
		checkServer(t, "ServerList[0]", got[0], want[1])
		recent := store.Filter{{Field: "started_at", Op: store.OpGte, Value: *bundle.at(time.Second)}}
		got, err = bundle.exec.ServerList(ctx, &store.ServerListParams{Filter: recent, OrderBy: []store.Order{{Field: "started_at", Desc: true}}})
		if err != nil {
			t.Fatalf("ServerList(recent): %v", err)
		}
		checkStrings(t, "ServerList(recent)", serverIDs(got), []string{"server-c", "server-a"})
		n, err := bundle.exec.ServerCount(ctx, &store.ServerCountParams{Filter: recent})
		if err != nil || n != 2 {
			t.Errorf("ServerCount(recent) = %d, %v, want 2, nil", n, err)
		}
	})
}

// checkJobQuery checks that JobList and JobCount agree with want.
func checkJobQuery(ctx context.Context, t *testing.T, exec store.Executor, name string, filter store.Filter, namespaces []string, want []uuid.UUID) {
	t.Helper()
	got, err := exec.JobList(ctx, &store.JobListParams{Filter: filter, Namespaces: namespaces})
	if err != nil {
		t.Fatalf("JobList(%s): %v", name, err)
	}
	checkIDs(t, "JobList("+name+")", jobIDs(got), want)
	n, err := exec.JobCount(ctx, &store.JobCountParams{Filter: filter, Namespaces: namespaces})
	if err != nil {
		t.Fatalf("JobCount(%s): %v", name, err)
	}
	checkCount(t, "JobCount("+name+")", n, len(want))
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func serverIDs(servers []*model.Server) []string {
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = s.ID
	}
	return ids
}
