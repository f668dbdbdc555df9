package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

const token = "hf_api-test-token"

type tokenAuth struct{}

// Authenticate treats the test token as the bootstrap admin token.
func (tokenAuth) Authenticate(r *http.Request) (*auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	if h != "Bearer "+token {
		return nil, auth.ErrUnauthorized
	}
	return auth.BootstrapAdmin("admin", "admin"), nil
}

func (tokenAuth) AllowRequest(*auth.Principal) (bool, time.Duration) { return true, 0 }

// nopScheduler satisfies api.Scheduler; these tests check the API alone.
type nopScheduler struct{}

func (nopScheduler) WakeGenerator()              {}
func (nopScheduler) WakeGeneratorFor(*time.Time) {}
func (nopScheduler) WakeDispatcher()             {}
func (nopScheduler) DispatchNow(context.Context, store.Executor, []*model.Task) (func(bool), int, error) {
	return func(bool) {}, 0, nil
}
func (nopScheduler) CancelInstance(string, uuid.UUID, string) {}
func (nopScheduler) DrainAgent(context.Context, string, string) error {
	return api.ErrAgentNotConnected
}

type testBundle struct {
	store store.Store
	srv   *httptest.Server
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupStore(t, teststore.SQLite(t))
}

// setupStore serves the API over st.
func setupStore(t *testing.T, st store.Store) *testBundle {
	t.Helper()
	return setupWith(t, st, nopScheduler{})
}

// setupWith serves the API over st, with sched as its scheduler.
func setupWith(t *testing.T, st store.Store, sched api.Scheduler) *testBundle {
	t.Helper()
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatalf("tasklog.New: %v", err)
	}
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: tokenAuth{}, Scheduler: sched, ServerID: "s1", Version: "test", Logger: lifecycletest.WarnLogger(t)})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &testBundle{store: st, srv: srv}
}

func (b *testBundle) do(t *testing.T, method, path, tok string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+api.Prefix+path, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (b *testBundle) createJob(t *testing.T) string {
	t.Helper()
	status, raw := b.do(t, http.MethodPost, "/jobs", token, strings.NewReader(`{"name":"j","config":{"command":"true"}}`))
	if status != http.StatusCreated {
		t.Fatalf("create job = %d %s", status, raw)
	}
	return decodeID(t, raw)
}

// counts returns how many jobs, schedules and tasks exist.
func (b *testBundle) counts(t *testing.T) [3]int {
	t.Helper()
	ctx := t.Context()
	j, err1 := b.store.JobCount(ctx, &store.JobCountParams{})
	s, err2 := b.store.ScheduleCount(ctx, &store.ScheduleCountParams{})
	k, err3 := b.store.TaskCount(ctx, &store.TaskCountParams{})
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatalf("count: %v", err)
	}
	return [3]int{j, s, k}
}

type problem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	jobID := b.createJob(t)
	big := `{"name":"big","description":"` + strings.Repeat("x", 2<<20) + `","config":{"command":"true"}}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		location                 string
	}{
		{"ImpossibleCron", "POST", "/schedules", `{"job_id":"` + jobID + `","kind":1,"cron":"0 0 30 2 *"}`, 422, "body.cron"},
		{"MalformedCron", "POST", "/schedules", `{"job_id":"` + jobID + `","kind":1,"cron":"every day"}`, 422, "body.cron"},
		{"UnknownTimeZone", "POST", "/schedules", `{"job_id":"` + jobID + `","kind":1,"cron":"* * * * *","time_zone":"Mars/Olympus"}`, 422, "body.time_zone"},
		{"ZeroInterval", "POST", "/schedules", `{"job_id":"` + jobID + `","kind":2,"interval":"0s"}`, 422, "body.interval"},
		{"NegativeInterval", "POST", "/schedules", `{"job_id":"` + jobID + `","kind":2,"interval":"-5s"}`, 422, "body.interval"},
		{"UnknownKind", "POST", "/schedules", `{"job_id":"` + jobID + `","kind":42}`, 422, "body.kind"},
		{"UnknownKindAfterAFilter", "POST", "/schedules", `{"job_id":"` + jobID + `","event_filter":{"a":1},"kind":42}`, 422, "body.kind"},
		{"FilterOnANonEventSchedule", "POST", "/schedules", `{"job_id":"` + jobID + `","kind":2,"interval":"1s","event_filter":{"a":1}}`, 422, "body.event_filter"},
		{"BadEventFilter", "POST", "/schedules", `{"job_id":"` + jobID + `","kind":3,"event_filter":{"a":{"$like":1}}}`, 422, "body.event_filter.a.$like"},
		{"UnknownJob", "POST", "/schedules", `{"job_id":"` + uuid.NewString() + `","kind":2,"interval":"1s"}`, 422, "body.job_id"},
		{"OnceInThePast", "POST", "/schedules", `{"job_id":"` + jobID + `","kind":6,"start_time":"2001-01-01T00:00:00Z"}`, 422, "body.start_time"},
		{"UnknownField", "POST", "/jobs", `{"name":"x","nmae":"y","config":{"command":"true"}}`, 422, "body.nmae"},
		{"UnknownConfigField", "POST", "/jobs", `{"name":"x","config":{"command":"true","timeuot":"1s"}}`, 422, "body.config.timeuot"},
		{"WrongType", "POST", "/jobs", `{"name":5,"config":{"command":"true"}}`, 422, "body.name"},
		{"DurationAsNumber", "POST", "/jobs", `{"name":"x","config":{"command":"true","timeout":30}}`, 422, "body.config.timeout"},
		{"BadDuration", "POST", "/jobs", `{"name":"x","config":{"command":"true","timeout":"soon"}}`, 422, "body.config.timeout"},
		{"MissingConfig", "POST", "/jobs", `{"name":"x"}`, 422, "body.config"},
		{"MissingName", "POST", "/jobs", `{"config":{"command":"true"}}`, 422, "body.name"},
		{"NothingToRun", "POST", "/jobs", `{"name":"x","config":{}}`, 422, "body.config.command"},
		{"BadName", "POST", "/jobs", `{"name":"no spaces please","config":{"command":"true"}}`, 422, "body.name"},
		{"UnknownInterpreter", "POST", "/jobs", `{"name":"x","config":{"script":"x","interpreter":"cobol"}}`, 422, "body.config.interpreter"},
		{"BadEnvName", "POST", "/jobs", `{"name":"x","config":{"command":"true","env":{"1X":"y"}}}`, 422, "body.config.env.1X"},
		{"SelectorUnknownOperator", "POST", "/jobs", `{"name":"x","config":{"command":"true","selector":[{"key":"env","op":"~","values":["a"]}]}}`, 422, "body.config.selector[0].op"},
		{"SelectorInWithoutValues", "POST", "/jobs", `{"name":"x","config":{"command":"true","selector":[{"key":"env","op":"in"}]}}`, 422, "body.config.selector[0].values"},
		{"SelectorExistsWithValue", "POST", "/jobs", `{"name":"x","config":{"command":"true","selector":[{"key":"gpu","op":"exists","values":["1"]}]}}`, 422, "body.config.selector[0].values"},
		{"UnknownRouting", "POST", "/jobs", `{"name":"x","config":{"command":"true","routing":{"strategy":"fastest"}}}`, 422, "body.config.routing.strategy"},
		{"HashKeyNotAParam", "POST", "/jobs", `{"name":"x","config":{"command":"true","routing":{"strategy":"consistent_hash","hash_key":"tenant"}}}`, 422, "body.config.routing.hash_key"},
		{"SuccessRuleWithoutBroadcast", "POST", "/jobs", `{"name":"x","config":{"command":"true","routing":{"success":"any"}}}`, 422, "body.config.routing.success"},
		// A job with a bad schedule is not created either.
		{"JobWithABadSchedule", "POST", "/jobs", `{"name":"x","config":{"command":"true"},"schedules":[{"kind":2,"interval":"1s"},{"kind":1,"cron":"every day"}]}`, 422, "body.schedules[1].cron"},
		{"JobWithAScheduleOfAnotherJob", "POST", "/jobs", `{"name":"x","config":{"command":"true"},"schedules":[{"job_id":"` + jobID + `","kind":2,"interval":"1s"}]}`, 422, "body.schedules[0].job_id"},
		{"ReplaceWithSchedules", "PUT", "/jobs/" + jobID, `{"name":"j","config":{"command":"true"},"schedules":[{"kind":2,"interval":"1s"}]}`, 422, "body.schedules"},
		{"DuplicateName", "POST", "/jobs", `{"name":"j","config":{"command":"true"}}`, 409, ""},
		{"NotJSON", "POST", "/jobs", `{"name":`, 400, ""},
		{"BodyOverOneMiB", "POST", "/jobs", big, 413, ""},
		{"UnknownJobID", "GET", "/jobs/" + uuid.NewString(), "", 404, ""},
		{"MalformedJobID", "GET", "/jobs/42", "", 422, "path.id"},
		{"ReplaceUnknownJob", "PUT", "/jobs/" + uuid.NewString(), `{"name":"x","config":{"command":"true"}}`, 404, ""},
		{"RunUnknownJob", "POST", "/jobs/" + uuid.NewString() + "/run", `{}`, 404, ""},
		{"CancelUnknownTask", "POST", "/tasks/" + uuid.NewString() + "/cancel", `{}`, 404, ""},
		{"FilterUnknownField", "POST", "/jobs/query", `{"filter":{"colour":"red"}}`, 422, "body.filter.colour"},
		{"FilterUnknownOperator", "POST", "/jobs/query", `{"filter":{"name":{"$like":"x"}}}`, 422, "body.filter.name.$like"},
		{"FilterWrongType", "POST", "/tasks/query", `{"filter":{"attempt":{"$gt":"many"}}}`, 422, "body.filter.attempt.$gt"},
		{"PageTooLarge", "POST", "/jobs/query", `{"page":{"limit":5000}}`, 422, "body.page.limit"},
		{"OrderUnknownField", "POST", "/jobs/query", `{"page":{"order_bys":["!colour"]}}`, 422, "body.page.order_bys[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.counts(t)
			status, raw := b.do(t, tc.method, tc.path, token, strings.NewReader(tc.body))
			if status != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, status, raw, tc.status)
			}
			if after := b.counts(t); after != before {
				t.Errorf("counts changed from %v to %v", before, after)
			}
			if tc.location == "" {
				return
			}
			var p problem
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("problem document: %v in %s", err, raw)
			}
			for _, e := range p.Errors {
				if e.Location == tc.location {
					return
				}
			}
			t.Errorf("problem %s does not name %s", raw, tc.location)
		})
	}
}

func TestOversizeBodyDoesNotPoisonTheConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := strings.Repeat("x", 3<<20)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(strings.NewReader(big)) // length unknown: sent chunked
		}
		if status, raw := b.do(t, http.MethodPost, "/jobs", token, body); status != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversize body (chunked %v) = %d %s, want 413", chunked, status, raw)
		}
		// The next request, on whatever connection the client picks, is
		// read as itself.
		if status, raw := b.do(t, http.MethodGet, "/jobs/"+uuid.NewString(), token, nil); status != http.StatusNotFound {
			t.Fatalf("request after an oversize body (chunked %v) = %d %s, want 404", chunked, status, raw)
		}
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name, path, tok string
		status          int
	}{
		{"NoToken", "/jobs/query", "", 401},
		{"WrongToken", "/jobs/query", "hf_wrong", 401},
		{"AdminToken", "/jobs/query", token, 200},
	} {
		status, raw := b.do(t, http.MethodPost, tc.path, tc.tok, bytes.NewBufferString(`{}`))
		if status != tc.status {
			t.Errorf("%s: POST %s = %d %s, want %d", tc.name, tc.path, status, raw, tc.status)
		}
	}
	if status, _ := b.do(t, http.MethodGet, "/health", "", nil); status != 200 {
		t.Errorf("health without a token = %d, want 200", status)
	}
	if status, raw := b.do(t, http.MethodGet, "/openapi.json", "", nil); status != 200 || !json.Valid(raw) {
		t.Errorf("openapi.json = %d, want a JSON document", status)
	}
}

func TestQueryPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 5 {
		body := `{"name":"job-` + string(rune('a'+i)) + `","config":{"command":"true"}}`
		if status, raw := b.do(t, "POST", "/jobs", token, strings.NewReader(body)); status != 201 {
			t.Fatalf("create = %d %s", status, raw)
		}
	}
	status, raw := b.do(t, "POST", "/jobs/query", token, strings.NewReader(`{"filter":{"name":{"$startsWith":"job-"}},"page":{"page":2,"limit":2,"order_bys":["name"]}}`))
	if status != 200 {
		t.Fatalf("query = %d %s", status, raw)
	}
	var out struct {
		Page struct {
			Total   int  `json:"total"`
			HasMore bool `json:"has_more"`
		} `json:"page"`
		Result []struct{ Name string } `json:"result"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if out.Page.Total != 5 || !out.Page.HasMore || len(out.Result) != 2 || out.Result[0].Name != "job-c" || out.Result[1].Name != "job-d" {
		t.Errorf("page = %+v, want total 5, more, [job-c job-d]", out)
	}
}
