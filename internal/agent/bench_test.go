package agent

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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
// the figure to compare.
func BenchmarkRunTrue(b *testing.B) {
	trueBin, err := exec.LookPath("true")
	if err != nil {
		b.Skip("true not installed")
	}
	b.Run("Bare", func(b *testing.B) {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := exec.Command(trueBin).Run(); err != nil {
					b.Errorf("run %s: %v", trueBin, err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
	})
	for _, mode := range []struct {
		name     string
		noCgroup bool
	}{{"Cgroup", false}, {"Fallback", true}} {
		b.Run("Runner/"+mode.name, func(b *testing.B) {
			a := benchAgent(b, mode.noCgroup)
			cfg := model.JobConfig{Command: trueBin}
			b.SetParallelism(benchParallelism)
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
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			for i := range PhaseNS {
				b.Logf("phase %d: %v/run", i, time.Duration(PhaseNS[i].Swap(0)/int64(b.N)))
			}
		})
	}
}

// benchAgent returns an agent that is not started but can execute runs.
func benchAgent(b *testing.B, noCgroup bool) *Agent {
	b.Helper()
	a, err := New(Config{ID: "bench", Servers: []string{"ws://127.0.0.1:1"}, DataDir: b.TempDir()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(a.cfg.DataDir, "runs"), 0o750); err != nil {
		b.Fatal(err)
	}
	a.box = acquireSandbox(noCgroup)
	b.Cleanup(a.box.release)
	if !noCgroup && a.box.cg == nil {
		b.Skipf("no delegated cgroup v2 on this machine: %v", a.box.warnings)
	}
	return a
}
