package agent

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// benchParallelism is the runs in flight per CPU: a start mostly waits on
// the kernel, so the ceiling needs more than one per CPU.
const benchParallelism = 4

// BenchmarkRunTrue compares the runner's fork/exec path (/bin/true started
// in its sandbox, its output pumped, waited for, swept, accounted and
// reported to the outbox) with the ceiling: a bare
// exec.Command("/bin/true").Run() loop at the same parallelism. runs/s is
// the figure to compare; cpu-µs/run (the process and its children) is the
// steadier one on a shared machine. Run each variant in a process of its
// own (-bench 'RunTrue/Runner/Cgroup$'): the fallback makes the process a
// child subreaper, which costs later cgroup runs a zombie sweep.
func BenchmarkRunTrue(b *testing.B) {
	trueBin, err := exec.LookPath("true")
	if err != nil {
		b.Skip("true not installed")
	}
	b.Run("Bare", func(b *testing.B) {
		b.SetParallelism(benchParallelism)
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := exec.Command(trueBin).Run(); err != nil {
					b.Errorf("run %s: %v", trueBin, err)
					return
				}
			}
		})
		reportRuns(b, cpu)
	})
	for _, mode := range []struct {
		name     string
		noCgroup bool
	}{{"Cgroup", false}, {"Fallback", true}} {
		b.Run("Runner/"+mode.name, func(b *testing.B) {
			a := benchAgent(b, mode.noCgroup)
			cfg := model.JobConfig{Command: trueBin}
			b.SetParallelism(benchParallelism)
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := &run{a: a, d: newInstance(cfg)}
					if res := r.execute(b.Context()); res.Status != model.InstanceSucceeded {
						b.Errorf("run: %s %s", res.Status, res.Error)
						return
					}
					a.out.ack(a.out.lastSeq()) // as a server would
				}
			})
			reportRuns(b, cpu)
		})
	}
}

// cpuTime returns the CPU time used so far by the process and its reaped
// children.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano())
}

// reportRuns reports runs/s and CPU µs per run since cpu (cpuTime).
func reportRuns(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/run")
}

// benchAgent returns an agent that is not started but can execute runs.
func benchAgent(b *testing.B, noCgroup bool) *Agent {
	b.Helper()
	a, err := New(Config{ID: "bench", Servers: []string{"ws://127.0.0.1:1"}, DataDir: b.TempDir()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	if err := a.workDirs.reset(filepath.Join(a.cfg.DataDir, "runs")); err != nil {
		b.Fatal(err)
	}
	a.box = acquireSandbox(noCgroup)
	b.Cleanup(a.box.release)
	if !noCgroup && a.box.cg == nil {
		b.Skipf("no delegated cgroup v2 on this machine: %v", a.box.warnings)
	}
	return a
}

// BenchmarkRunHTTP measures an http task's run against a local server:
// request, status line and body head to the outbox, result.
func BenchmarkRunHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	a := benchAgent(b, true)
	defer a.http.transport.CloseIdleConnections()
	cfg := model.JobConfig{Type: model.TaskHTTP, HTTP: &model.HTTPTask{URL: srv.URL}}
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := &run{a: a, d: newInstance(cfg)}
			if res := r.execute(b.Context()); res.Status != model.InstanceSucceeded {
				b.Errorf("run: %s %s", res.Status, res.Error)
				return
			}
			a.out.ack(a.out.lastSeq())
		}
	})
	reportRuns(b, cpu)
}
