package client_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/client"
)

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.WithToken("secret"), client.WithRetries(3, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetriesIdempotentCallsOnUnavailable(t *testing.T) {
	var calls atomic.Int32
	id := uuid.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer secret" {
			t.Errorf("Authorization = %q", got)
		}
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"name":"j","namespace":"default","status":100}`, id)
	}))
	defer srv.Close()
	j, err := newClient(t, srv.URL).GetJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if j.ID != id || j.Name != "j" {
		t.Fatalf("job = %+v", j)
	}
	if calls.Load() != 3 {
		t.Fatalf("calls = %d, want 3 (two failures, one success)", calls.Load())
	}
}

func TestRetriesQueriesOnConnectionErrors(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			// Cut the connection without an answer.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Write([]byte(`{"page":{"total":0,"has_more":false},"result":[]}`))
	}))
	defer srv.Close()
	res, err := newClient(t, srv.URL).QueryJobs(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Page.Total != 0 || calls.Load() != 3 {
		t.Fatalf("total %d, calls %d", res.Page.Total, calls.Load())
	}
}

func TestDoesNotRetryRunsOrClientErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		call   func(*client.Client) error
	}{
		{"run on 503", http.StatusServiceUnavailable, func(c *client.Client) error {
			_, err := c.RunJob(context.Background(), uuid.New(), nil)
			return err
		}},
		{"get on 404", http.StatusNotFound, func(c *client.Client) error {
			_, err := c.GetJob(context.Background(), uuid.New())
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			err := tc.call(newClient(t, srv.URL))
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Status != tc.status {
				t.Fatalf("err = %v", err)
			}
			if calls.Load() != 1 {
				t.Fatalf("calls = %d, want 1", calls.Load())
			}
		})
	}
}

func TestDecodesProblemDocuments(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		w.Write([]byte(`{"title":"Unprocessable Entity","status":422,"code":"validation_failed","detail":"validation failed","errors":[{"location":"body.config.timeout","message":"must be a duration"}]}`))
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL).CreateJob(context.Background(), &client.JobSpec{Name: "x"})
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %T %v", err, err)
	}
	if ae.Status != 422 || ae.Code != "validation_failed" || len(ae.Errors) != 1 || ae.Errors[0].Location != "body.config.timeout" {
		t.Fatalf("problem = %+v", ae)
	}
	if !strings.Contains(err.Error(), "body.config.timeout") {
		t.Fatalf("message %q does not name the field", err)
	}
	if client.IsNotFound(err) || client.IsConflict(err) {
		t.Fatal("422 taken for 404 or 409")
	}
}

func TestCodeDerivedFromStatusWhenMissing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL).DrainAgent(context.Background(), "a1")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Code != "conflict" || !client.IsConflict(err) {
		t.Fatalf("err = %#v", err)
	}
}

func TestFollowLogResumesAfterBrokenStream(t *testing.T) {
	id := uuid.New()
	var conns atomic.Int32
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		switch conns.Add(1) {
		case 1:
			fmt.Fprintf(w, "event: stdout\nid: 6\ndata: {\"offset\":0,\"data\":%q}\n\n", b64("hello "))
			// The stream breaks before the end event.
		default:
			if got := r.Header.Get("Last-Event-ID"); got != "6" {
				t.Errorf("Last-Event-ID = %q, want 6", got)
			}
			// The server resends from an earlier offset; the client skips
			// what it has.
			fmt.Fprintf(w, "event: stdout\nid: 12\ndata: {\"offset\":3,\"data\":%q}\n\n", b64("lo world"))
			fmt.Fprint(w, ": ping\n\n")
			fmt.Fprint(w, "event: end\ndata: {\"status\":\"failed\",\"exit_code\":3}\n\n")
		}
	}))
	defer srv.Close()
	var out strings.Builder
	var end *client.LogEnd
	for ev, err := range newClient(t, srv.URL).FollowLog(context.Background(), id, nil) {
		if err != nil {
			t.Fatal(err)
		}
		out.Write(ev.Data)
		if ev.End != nil {
			end = ev.End
		}
	}
	if out.String() != "hello world" {
		t.Fatalf("output %q", out.String())
	}
	if end == nil || end.Succeeded() || end.ExitCode == nil || *end.ExitCode != 3 {
		t.Fatalf("end = %+v", end)
	}
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9500":         "http://127.0.0.1:9500/api/v1",
		"https://h.example/":     "https://h.example/api/v1",
		"ws://h:1/api/v1":        "http://h:1/api/v1",
		"wss://h/prefix/api/v1/": "https://h/prefix/api/v1",
	} {
		got, err := client.BaseURL(in)
		if err != nil || got != want {
			t.Errorf("BaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := client.BaseURL("ftp://x"); err == nil {
		t.Error("ftp accepted")
	}
}
