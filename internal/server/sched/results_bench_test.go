package sched

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// pgCounter is a TCP proxy in front of PostgreSQL that counts round trips:
// the ReadyForQuery messages the server sends, one per simple query and
// one per Sync of the extended protocol, so a transaction's BEGIN and
// COMMIT count too.
type pgCounter struct {
	ln         net.Listener
	target     string
	roundTrips atomic.Int64
	wg         sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func newPGCounter(t testing.TB, target string) *pgCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	c := &pgCounter{ln: ln, target: target}
	c.wg.Go(c.accept)
	t.Cleanup(c.close)
	return c
}

func (c *pgCounter) accept() {
	for {
		client, err := c.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", c.target)
		if err != nil {
			client.Close()
			continue
		}
		c.mu.Lock()
		c.conns = append(c.conns, client, server)
		c.mu.Unlock()
		c.wg.Go(func() {
			_, _ = io.Copy(server, client)
			server.Close()
		})
		c.wg.Go(func() {
			c.relay(server, client)
			client.Close()
		})
	}
}

// relay copies the server's messages (type byte, then a length that
// counts itself) to the client, counting ReadyForQuery ('Z').
func (c *pgCounter) relay(server, client net.Conn) {
	r := bufio.NewReader(server)
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		if hdr[0] == 'Z' {
			c.roundTrips.Add(1)
		}
		if _, err := client.Write(hdr[:]); err != nil {
			return
		}
		if _, err := io.CopyN(client, r, int64(binary.BigEndian.Uint32(hdr[1:]))-4); err != nil {
			return
		}
	}
}

func (c *pgCounter) close() {
	c.ln.Close()
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// countingNotifier counts the notifications sent through it.
type countingNotifier struct {
	store.Notifier
	sent atomic.Int64
}

func (n *countingNotifier) Notify(ctx context.Context, channel, payload string) error {
	n.sent.Add(1)
	return n.Notifier.Notify(ctx, channel, payload)
}

// countedPostgres opens a migrated store in a new schema, reached through a
// round-trip counter.
func countedPostgres(t *testing.T) (store.Store, *pgCounter) {
	t.Helper()
	base := teststore.PGURL(t)
	schema := teststore.Schema(t, base)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	c := newPGCounter(t, u.Host)
	u.Host = c.ln.Addr().String()
	st, err := pgstore.Open(context.WithoutCancel(t.Context()), pgstore.Config{URL: u.String(), Schema: schema, Migrate: true, MaxConns: 4}, nil)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(st.Close)
	return st, c
}

// oneLineRun returns the reports of a run that prints one line, as its
// agent sends them.
func oneLineRun(in *model.TaskInstance) []*Report {
	exit := 0
	now := time.Now()
	return []*Report{
		{AgentID: in.AgentID, Acked: []uuid.UUID{in.ID}},
		{AgentID: in.AgentID, Running: &protocol.TaskRunning{InstanceID: in.ID, StartedAt: now}},
		{AgentID: in.AgentID, Log: &protocol.TaskLog{InstanceID: in.ID, Stream: model.Stdout, Data: []byte("hello\n")}},
		{AgentID: in.AgentID, Done: &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceSucceeded, ExitCode: &exit, StartedAt: now, FinishedAt: now.Add(time.Millisecond),
			Usage: model.ResourceUsage{StdoutBytes: 6}}},
	}
}

// TestResultsLogRoundTrips measures the database round trips of a run that
// prints one line, from the agent's first report to its log packed and
// every server told: with files (the output on the server's disk, before
// servers shared it) and with rows (in PostgreSQL, with the relay's
// notifications and the compressor's merge). It logs the numbers; run with
// -v to see them.
func TestResultsLogRoundTrips(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"Files", "Rows"} {
		for _, together := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/OneBatch=%v", backend, together), func(t *testing.T) {
				t.Parallel()
				ctx := context.WithoutCancel(t.Context())
				st, counter := countedPostgres(t)
				var logs *tasklog.Store
				var relay *tasklog.Relay
				notifier := &countingNotifier{Notifier: st}
				if backend == "Rows" {
					logs = tasklog.NewDB(st)
					relay = tasklog.NewRelay(tasklog.RelayConfig{ServerID: "s1"}, notifier, logs, lifecycletest.WarnLogger(t))
					relay.TestSignals.Init()
				} else {
					var err error
					if logs, err = tasklog.New(t.TempDir()); err != nil {
						t.Fatalf("tasklog.New: %v", err)
					}
				}
				comp := tasklog.NewCompressor(logs, lifecycletest.WarnLogger(t))
				comp.TestSignals.Init()
				if err := comp.Start(ctx); err != nil {
					t.Fatalf("Start compressor: %v", err)
				}
				t.Cleanup(comp.Stop)
				// measure returns the round trips of one run, and how many
				// of them were notifications.
				measure := func() (int64, int64) {
					_, in := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceDispatched, nil)
					if relay != nil {
						if err := relay.Start(ctx); err != nil {
							t.Fatalf("Start relay: %v", err)
						}
						relay.TestSignals.Connected.Wait(t)
					}
					r := NewResults(ResultsConfig{ServerID: "s1", AckTimeout: time.Minute}, st, logs, Wakers{}, lifecycletest.WarnLogger(t))
					start, notes := counter.roundTrips.Load(), notifier.sent.Load()
					if together {
						for _, rep := range oneLineRun(in) {
							if err := r.Submit(ctx, rep); err != nil {
								t.Fatalf("Submit: %v", err)
							}
						}
					}
					if err := r.Start(ctx); err != nil {
						t.Fatalf("Start results: %v", err)
					}
					if !together {
						for _, rep := range oneLineRun(in) {
							if err := r.Submit(ctx, rep); err != nil {
								t.Fatalf("Submit: %v", err)
							}
							if err := r.Flush(ctx); err != nil {
								t.Fatalf("Flush: %v", err)
							}
						}
					}
					if err := r.Flush(ctx); err != nil {
						t.Fatalf("Flush: %v", err)
					}
					if backend == "Files" {
						// Rows skip packing a log this small.
						comp.TestSignals.Compressed.Wait(t)
					}
					if relay != nil {
						relay.Stop() // publishes what is pending
					}
					n, nn := counter.roundTrips.Load()-start, notifier.sent.Load()-notes
					r.Stop()
					if got := getInstance(ctx, t, st, in.ID); got.Status != model.InstanceSucceeded {
						t.Fatalf("instance %s, want succeeded", got.Status)
					}
					return n, nn
				}
				// pgx prepares statements per connection: warm every
				// connection of the pool, then take the fewest of a few runs.
				for range 8 {
					measure()
				}
				best, bestNotes := int64(-1), int64(0)
				for range 5 {
					if n, nn := measure(); best < 0 || n < best {
						best, bestNotes = n, nn
					}
				}
				t.Logf("%s, one batch %v: %d round trips for a run printing one line, %d of them notifications", backend, together, best, bestNotes)
			})
		}
	}
}

// BenchmarkResultsSmallChunks measures how fast the results writer stores
// small chunks (one 64-byte line each, over 50 running instances): with
// files, and with rows batched as the writer groups reports (up to 1000 a
// transaction) or one report per transaction (MaxBatch 1), which is what a
// statement per chunk would cost.
func BenchmarkResultsSmallChunks(b *testing.B) {
	line := []byte(fmt.Sprintf("%063d\n", 0))
	for _, c := range []struct {
		name     string
		rows     bool
		maxBatch int
	}{{"Files", false, 0}, {"Rows", true, 0}, {"RowsUnbatched", true, 1}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.WithoutCancel(b.Context())
			st := teststore.Postgres(b)
			var logs *tasklog.Store
			if c.rows {
				logs = tasklog.NewDB(st)
			} else {
				var err error
				if logs, err = tasklog.New(b.TempDir()); err != nil {
					b.Fatalf("tasklog.New: %v", err)
				}
			}
			ins := make([]*model.TaskInstance, 50)
			for i := range ins {
				ins[i] = storetest.TaskInstance(ctx, b, st, nil)
			}
			r := NewResults(ResultsConfig{ServerID: "s1", AckTimeout: time.Minute, MaxBatch: c.maxBatch}, st, logs, Wakers{}, lifecycletest.WarnLogger(b))
			if err := r.Start(ctx); err != nil {
				b.Fatalf("Start: %v", err)
			}
			defer r.Stop()
			offsets := make([]int64, len(ins))
			b.ResetTimer()
			for i := range b.N {
				k := i % len(ins)
				in := ins[k]
				if err := r.Submit(ctx, &Report{AgentID: in.AgentID, Log: &protocol.TaskLog{InstanceID: in.ID, Stream: model.Stdout, Offset: offsets[k], Data: line}}); err != nil {
					b.Fatalf("Submit: %v", err)
				}
				offsets[k] += int64(len(line))
			}
			if err := r.Flush(ctx); err != nil {
				b.Fatalf("Flush: %v", err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
			var total int64
			for _, in := range ins {
				n, err := logs.Size(ctx, in.ID, model.Stdout)
				if err != nil {
					b.Fatalf("Size: %v", err)
				}
				total += n
			}
			if total != int64(b.N*len(line)) {
				b.Fatalf("stored %d bytes, want %d", total, b.N*len(line))
			}
		})
	}
}
