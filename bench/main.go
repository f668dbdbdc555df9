// Command bench is hetuflow's benchmark harness. It builds the hetuflow
// binary (or takes -bin), starts real server and agent processes of it,
// drives them through the HTTP API (simulated agents speak the agent
// protocol), and writes bench/results/<date>.md and .json.
//
//	go run ./bench                 # the standard set, under 10 minutes
//	go run ./bench -set full       # the full set
//	go run ./bench -only spread,burst -runs 5
//
// docs/benchmarks.md describes every scenario and how to read the results.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// scenario is one measurement the harness can run; its run function adds
// its results to the report.
type scenario struct {
	key string
	run func(ctx context.Context, b *bench) error
}

// scenarios lists every scenario in the order they run.
var scenarios = []scenario{
	{"startup", runStartup},
	{"spread", runSpread},
	{"burst", runBurst},
	{"manual", runManual},
	{"throughput", runThroughput},
	{"http", runHTTPThroughput},
	{"overload", runOverload},
	{"create", runCreate},
	{"scale", runScale},
	{"api", runAPI},
}

// bench holds what every scenario shares.
type bench struct {
	log     *slog.Logger
	set     *setConfig
	bin     string // the hetuflow binary
	goCmd   string
	workDir string // clusters live in subdirectories
	keep    bool   // keep workDir
	pgURL   string // PostgreSQL admin URL; each cluster gets a schema
	stores  []string
	rates   []float64 // -rates: fixed throughput steps
	// serverEnv is added to every server's environment (-server-env).
	serverEnv []string
	runs      int // runs per figure
	// waitQuiet is the longest wait for a quiet machine before a result.
	waitQuiet time.Duration
	seq       int // cluster counter
	report    *Report
	// buildTime is how long building the binary took, when the harness
	// built it.
	buildTime time.Duration
}

func main() {
	os.Exit(run())
}

func run() int {
	var (
		setName = flag.String("set", "standard", "standard (make bench, under 10 minutes) or full")
		only    = flag.String("only", "", "comma-separated scenarios to run (default all): "+scenarioKeys())
		bin     = flag.String("bin", "", "hetuflow binary to use (default: build ./cmd/hetuflow stripped into the work dir)")
		out     = flag.String("out", "bench/results", "directory for <date>.md and <date>.json")
		pgURL   = flag.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL; each cluster gets its own schema, dropped afterwards")
		stores  = flag.String("stores", "sqlite,postgres", "stores to measure where a scenario runs on several")
		runs    = flag.Int("runs", 3, "runs per figure (at least 3 for a result that counts)")
		keep    = flag.Bool("keep", false, "keep the work directory (server and agent logs, databases)")
		goCmd   = flag.String("go", "go", "go command used to build")
		capFlag = flag.Int("capacity", 0, "throughput: agent capacity (default from the set)")
		spreadN = flag.String("spread-n", "", "spread: comma-separated runs per second (default from the set)")
		burstN  = flag.String("burst-n", "", "burst: comma-separated job counts (default from the set)")
		rates   = flag.String("rates", "", "throughput, http: comma-separated rates (runs/s) to step through instead of the set's ramp")
		quiet   = flag.Duration("wait-quiet", 0, "before each result, wait up to this long for other processes to use under 20% of a core")
		verbose = flag.Bool("v", false, "log debug detail")
		srvEnv  = flag.String("server-env", "", "comma-separated KEY=VALUE settings added to every server's environment, e.g. HETUFLOW_SERVER_DEBUG_LISTEN=127.0.0.1:6060 to profile")
	)
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	named, ok := sets[*setName]
	if !ok {
		log.Error("unknown -set", "set", *setName)
		return 2
	}
	set := *named // flags may change the copy
	want := map[string]bool{}
	for _, k := range splitList(*only) {
		if !slices.ContainsFunc(scenarios, func(s scenario) bool { return s.key == k }) {
			log.Error("unknown scenario in -only", "scenario", k, "known", scenarioKeys())
			return 2
		}
		want[k] = true
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Whatever happens, no server or agent outlives the harness.
	defer killAll()

	raiseFileLimit(log)
	work, err := os.MkdirTemp("", "hetuflow-bench-")
	if err != nil {
		log.Error("create work dir", "error", err)
		return 1
	}
	b := &bench{
		log: log, set: &set, goCmd: *goCmd, workDir: work, keep: *keep, pgURL: *pgURL,
		stores: splitList(*stores), runs: max(*runs, 1), waitQuiet: *quiet, serverEnv: splitList(*srvEnv),
		report: &Report{Set: *setName, Started: time.Now(), Command: strings.TrimSpace("go run ./bench " + strings.Join(os.Args[1:], " "))},
	}
	defer func() {
		if b.keep {
			log.Info("work directory kept", "dir", work)
			return
		}
		_ = os.RemoveAll(work)
	}()
	for _, v := range splitList(*rates) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			log.Error("bad -rates value", "value", v)
			return 2
		}
		b.rates = append(b.rates, f)
	}
	if *capFlag > 0 {
		set.TputCapacity = *capFlag
	}
	for flagName, v := range map[string]struct {
		list string
		dst  *[]int
	}{"-spread-n": {*spreadN, &set.SpreadN}, "-burst-n": {*burstN, &set.BurstN}} {
		if v.list == "" {
			continue
		}
		var ns []int
		for _, s := range splitList(v.list) {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				log.Error("bad "+flagName+" value", "value", s)
				return 2
			}
			ns = append(ns, n)
		}
		*v.dst = ns
	}
	b.report.Machine = machineInfo(ctx, b.goCmd)
	if slices.Contains(b.stores, storePostgres) {
		v, err := b.pgVersion(ctx)
		if err != nil {
			log.Error("PostgreSQL is not reachable; use -stores sqlite to skip it", "error", err)
			return 1
		}
		b.report.Machine.PostgreSQL = v
	}
	if *bin != "" {
		b.bin = *bin
	} else if err := b.build(ctx); err != nil {
		log.Error("build", "error", err)
		return 1
	}

	failed := false
	for _, s := range scenarios {
		if len(want) > 0 && !want[s.key] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		log.Info("scenario", "name", s.key)
		start := time.Now()
		if err := s.run(ctx, b); err != nil {
			failed = true
			log.Error("scenario failed", "name", s.key, "error", err)
			b.report.Results = append(b.report.Results, &Result{Scenario: s.key, Error: err.Error()})
		}
		log.Info("scenario done", "name", s.key, "took", time.Since(start).Round(time.Second))
	}
	b.report.Duration = time.Since(b.report.Started).Round(time.Second).String()
	if ctx.Err() != nil {
		log.Warn("interrupted; writing what was measured")
	}
	md, js, err := b.report.write(*out)
	if err != nil {
		log.Error("write results", "error", err)
		return 1
	}
	log.Info("results written", "markdown", md, "json", js, "took", b.report.Duration)
	for _, r := range b.report.Results {
		failed = failed || r.Error != ""
	}
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

func scenarioKeys() string {
	keys := make([]string, len(scenarios))
	for i, s := range scenarios {
		keys[i] = s.key
	}
	return strings.Join(keys, ",")
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// raiseFileLimit lifts the soft open-file limit to the hard one: simulated
// agents need a socket each, and the server (which inherits the limit) one
// per agent too.
func raiseFileLimit(log *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("read open-file limit", "error", err)
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			log.Warn("raise open-file limit", "error", err)
		}
	}
}

// fileLimit returns the current soft open-file limit.
func fileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Cur
}

// pgVersion checks that PostgreSQL answers and returns its version.
func (b *bench) pgVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	return v, nil
}

// build compiles ./cmd/hetuflow as `make build` does (static, stripped)
// into the work directory and records how long it took.
func (b *bench) build(ctx context.Context) error {
	b.bin = filepath.Join(b.workDir, "hetuflow")
	start := time.Now()
	if err := goBuild(ctx, b.goCmd, b.bin, nil, false); err != nil {
		return err
	}
	b.buildTime = time.Since(start)
	b.log.Info("built", "bin", b.bin, "took", b.buildTime.Round(time.Millisecond))
	return nil
}

// storesFor returns the stores a scenario measures: all of -stores in the
// full set or when all is set, else the first.
func (b *bench) storesFor(all bool) []string {
	if all || b.set.AllStores {
		return b.stores
	}
	if len(b.stores) == 0 {
		return nil
	}
	return b.stores[:1]
}

// newResult starts a result whose runs begin now, after waiting for the
// machine to be quiet when -wait-quiet asks for it.
func (b *bench) newResult(ctx context.Context, scenario, params, storeKind string) *Result {
	r := &Result{Scenario: scenario, Params: params, Store: storeKind}
	if b.waitQuiet > 0 {
		start := time.Now()
		busy, err := waitQuiet(ctx, quietThreshold, b.waitQuiet)
		if err == nil && busy >= quietThreshold {
			b.log.Warn("machine still busy; measuring anyway", "others_cpu_pct", busy)
		}
		r.QuietWait = time.Since(start).Round(time.Second).String()
	}
	r.begun = markCPU()
	return r
}

// quietThreshold is the CPU other processes may use (% of one core) for
// the machine to count as quiet.
const quietThreshold = 20

// add records a result with the CPU others used while it ran.
func (b *bench) add(r *Result) {
	if !r.begun.at.IsZero() {
		end := markCPU()
		r.Took = end.at.Sub(r.begun.at).Round(time.Second).String()
		r.OthersCPU = othersCPU(r.begun, end)
	}
	b.report.Results = append(b.report.Results, r)
}
