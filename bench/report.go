package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is everything one benchmark run measured; it is written as JSON
// and as Markdown.
type Report struct {
	Set      string    `json:"set"`
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Command  string    `json:"command"`
	Machine  Machine   `json:"machine"`
	Results  []*Result `json:"results"`
}

// Result is one scenario in one configuration (parameters and store).
type Result struct {
	// Scenario is the scenario's key (spread, burst, …).
	Scenario string `json:"scenario"`
	// Params says what was varied, e.g. "N=200, 30 s".
	Params string `json:"params"`
	Store  string `json:"store"`
	// Runs is how many runs each figure summarises.
	Runs    int       `json:"runs"`
	Figures []*Figure `json:"figures"`
	// Tables hold detail a figure cannot, such as throughput steps.
	Tables []*Table `json:"tables,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	Error  string   `json:"error,omitempty"`
	Took   string   `json:"took"`
	// OthersCPU is the CPU that processes other than the benchmark's used
	// while the result's runs ran, in % of one core: other work on the
	// machine skews a measurement.
	OthersCPU float64 `json:"others_cpu_pct"`
	// QuietWait is how long the benchmark waited for the machine to calm
	// down before the runs (-wait-quiet).
	QuietWait string  `json:"quiet_wait,omitempty"`
	begun     cpuMark // when the runs began
}

// Figure is one measured quantity over the runs, with an optional target.
type Figure struct {
	Name    string  `json:"name"`
	Unit    string  `json:"unit"`
	Summary Summary `json:"summary"`
	Target  *Target `json:"target,omitempty"`
	// Verdict is "pass" or "miss" when there is a target.
	Verdict string `json:"verdict,omitempty"`
}

// Target is a bound a figure should keep.
type Target struct {
	// Op is "<=" or ">=".
	Op    string  `json:"op"`
	Value float64 `json:"value"`
	// Worst judges the worst run (max for <=, min for >=) instead of the
	// median; used for counts that must be zero and for maxima.
	Worst bool `json:"worst,omitempty"`
}

// judged returns the value the target is judged on.
func (f *Figure) judged() float64 {
	switch {
	case f.Target == nil || !f.Target.Worst:
		return f.Summary.Median
	case f.Target.Op == "<=":
		return f.Summary.Max
	default:
		return f.Summary.Min
	}
}

// judge sets the verdict.
func (f *Figure) judge() {
	if f.Target == nil {
		return
	}
	v := f.judged()
	ok := false
	switch f.Target.Op {
	case "<=":
		ok = v <= f.Target.Value
	case ">=":
		ok = v >= f.Target.Value
	}
	f.Verdict = "miss"
	if ok {
		f.Verdict = "pass"
	}
}

// Table is a small table of detail, rendered as is.
type Table struct {
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
}

// fig adds a figure over runs to r and returns it, so a target can be set.
func (r *Result) fig(name, unit string, runs []float64) *Figure {
	f := &Figure{Name: name, Unit: unit, Summary: Summarize(runs)}
	r.Figures = append(r.Figures, f)
	return f
}

// target sets f's target and judges it.
func (f *Figure) target(op string, v float64, worst bool) *Figure {
	f.Target = &Target{Op: op, Value: v, Worst: worst}
	f.judge()
	return f
}

// note adds a note.
func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// scenarioTitles names each scenario's section, in report order, with what
// it measures.
var scenarioTitles = []struct{ key, title, what string }{
	{"startup", "9. Startup, binary size, build time", "Process start → first `GET /api/v1/health` 200 (fresh database: includes migrations; restart: existing database). Stripped binary size. Build time."},
	{"spread", "1. Trigger lag, spread", "N interval-1s schedules anchored at T0 + k·(1000/N) ms running `/bin/date +%s%N`. Window [T0+2 s, T0+30 s). Lag = started_at − planned instant (agent-reported start, server clock; lost instances left out and counted); printed = the time the process printed − planned instant (from the output tail, or a sample of logs). Missed: planned instants without a succeeded instance; duplicated: instants with more than one task or succeeded instance, or runs at unplanned instants."},
	{"burst", "2. Trigger lag, burst", "N jobs on the same cron second running `/bin/date +%s%N`. The k-th start (in lag order) cannot begin before k/ceiling, ceiling being the raw fork/exec rate with N-way parallelism measured just before; excess = lag − that floor."},
	{"throughput", "3. Throughput, `/bin/true`", "Steps of rising rate R (fractions of the raw fork/exec ceiling, measured in the same run by the benchmark fork/exec-ing `/bin/true` with the agents' total parallelism), back to back on one cluster, each driven by interval schedules evenly spread over the second (one 1-s schedule per run/s up to 1000). The server plans 10 s ahead (generate_window) so planning happens during the steps, as in a steady state. A step passes when the runs finished and recorded per second reach 0.98·R in its three windows (median), neither the start lag nor the planned→recorded latency rises from its first two seconds to its last two by more than 50 ms (medians), at least 98 % of its last two seconds' runs are recorded 1.5 s after it, and none failed. The ramp stops at the first failing step; R is the highest passing rate."},
	{"http", "4. Throughput, `http` tasks", "As scenario 3 with `http` tasks (GET against an endpoint served by the benchmark process) at fixed rates: no fork, so this measures the scheduler itself."},
	{"overload", "Overload at 2× capacity", "Twice the runs/s the one-agent `/bin/true` throughput found (R), for a fixed time, then nothing: runs must queue in the database, server memory stay bounded, the API keep answering (a task-instances query every 250 ms), and every fire run exactly once once the backlog drains."},
	{"manual", "5. Manual trigger", "`POST /jobs/{id}/run` of `/bin/true`, one at a time, polling `GET /tasks/{id}` until final. Recorded: the instance's finished_at − request sent; to dispatched: its dispatched_at (the dispatcher's decision, before the claim commits) − request sent; dispatched to started: started_at (the agent's, after fork/exec) − dispatched_at; client: request sent → final status seen."},
	{"create", "6. Job creation", "8 concurrent clients each creating jobs with an hourly cron schedule, one `POST /jobs` (with `schedules`) per job (results before 2026-11-28 used two requests, the job and then its schedule). Rate per block of 10,000 jobs (flat means no slow-down as jobs accumulate); latency of each job+schedule request."},
	{"scale", "7. Scale", "Server RSS (VmRSS) and CPU (utime+stime over a window, % of one core) when idle, with N enabled hourly cron schedules that do not fire during the window (seeded with SQL before the server starts), and with N simulated agents (protocol clients in the benchmark process: hello, heartbeat every heartbeat_interval, acks)."},
	{"api", "8. API under load", "Open-loop requests at a fixed rate against a store seeded with SQL with N finished task instances (100 jobs): query = one page of 20 of a job's instances, newest first, with its total; create = `POST /jobs`. Latency from the scheduled send instant (no coordinated omission)."},
}

// cell formats a figure as "median (min–max)".
func cell(f *Figure) string {
	s := f.Summary
	if math.IsNaN(s.Median) {
		return "–"
	}
	if len(s.Runs) <= 1 || s.Min == s.Max {
		return num(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
}

// num formats a value with precision that suits its size.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "–"
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// markdown renders the report.
func (rep *Report) markdown() string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "# hetuflow benchmarks, %s (%s set)\n\n", rep.Started.Format("2006-01-02 15:04 MST"), rep.Set)
	fmt.Fprintf(&b, "- Machine: %s, %d cores, %d MiB, Linux %s; load average at start %s\n", m.CPU, m.Cores, m.MemoryMiB, m.Kernel, m.LoadAvg)
	dirty := ""
	if m.Dirty {
		dirty = " (with uncommitted changes)"
	}
	fmt.Fprintf(&b, "- Build: %s, commit %s%s\n", m.GoVersion, m.Commit, dirty)
	if m.PostgreSQL != "" {
		fmt.Fprintf(&b, "- PostgreSQL: %s\n", m.PostgreSQL)
	}
	fmt.Fprintf(&b, "- Command: `%s`; took %s\n", rep.Command, rep.Duration)
	fmt.Fprintf(&b, "- Cells read `median (min–max)` over the runs in the Runs column. How to reproduce and read this: docs/benchmarks.md.\n\n")

	b.WriteString("## Targets\n\n| Scenario | Configuration | Store | Figure | Target | Measured | Verdict |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		for _, f := range r.Figures {
			if f.Target == nil {
				continue
			}
			judged := "median"
			if f.Target.Worst {
				judged = "worst run"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s %s %s | %s (%s) | %s |\n", r.Scenario, r.Params, r.Store, f.Name,
				f.Target.Op, num(f.Target.Value), f.Unit, num(f.judged()), judged, strings.ToUpper(f.Verdict))
		}
	}
	b.WriteString("\n")

	for _, s := range scenarioTitles {
		var rs []*Result
		for _, r := range rep.Results {
			if r.Scenario == s.key {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", s.title, s.what)
		writeResultTable(&b, rs)
		for _, r := range rs {
			label := strings.TrimSpace(r.Params + ", " + r.Store)
			if r.Error != "" {
				fmt.Fprintf(&b, "- **%s: error:** %s\n", label, oneLine(r.Error))
			}
			for _, n := range r.Notes {
				fmt.Fprintf(&b, "- %s: %s\n", label, n)
			}
		}
		b.WriteString("\n")
		for _, r := range rs {
			for _, t := range r.Tables {
				fmt.Fprintf(&b, "**%s** (%s, %s)\n\n| %s |\n|%s\n", t.Title, r.Params, r.Store, strings.Join(t.Header, " | "), strings.Repeat("---|", len(t.Header)))
				for _, row := range t.Rows {
					fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
				}
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

// writeResultTable writes one row per result, one column per figure name.
func writeResultTable(b *strings.Builder, rs []*Result) {
	var names []string
	units := map[string]string{}
	for _, r := range rs {
		for _, f := range r.Figures {
			if _, ok := units[f.Name]; !ok {
				names = append(names, f.Name)
				units[f.Name] = f.Unit
			}
		}
	}
	b.WriteString("| Configuration | Store | Runs | Others' CPU (%) |")
	for _, n := range names {
		if units[n] == "" {
			fmt.Fprintf(b, " %s |", n)
			continue
		}
		fmt.Fprintf(b, " %s (%s) |", n, units[n])
	}
	b.WriteString("\n|---|---|---|---|" + strings.Repeat("---|", len(names)) + "\n")
	for _, r := range rs {
		fmt.Fprintf(b, "| %s | %s | %d | %.0f |", r.Params, r.Store, r.Runs, r.OthersCPU)
		for _, n := range names {
			c := ""
			for _, f := range r.Figures {
				if f.Name == n {
					c = cell(f)
					if f.Verdict == "miss" {
						c = "**" + c + "** ✗"
					}
				}
			}
			fmt.Fprintf(b, " %s |", c)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// write saves the report as <dir>/<date>.md and .json, adding -2, -3, … to
// the name when a file of that name exists. It returns the paths.
func (rep *Report) write(dir string) (mdPath, jsonPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("create results dir: %w", err)
	}
	base := rep.Started.Format("2006-01-02")
	name := base
	for i := 2; ; i++ {
		_, e1 := os.Stat(filepath.Join(dir, name+".md"))
		_, e2 := os.Stat(filepath.Join(dir, name+".json"))
		if errors.Is(e1, fs.ErrNotExist) && errors.Is(e2, fs.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
	mdPath = filepath.Join(dir, name+".md")
	jsonPath = filepath.Join(dir, name+".json")
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(jsonPath, append(js, '\n'), 0o644); err != nil {
		return "", "", fmt.Errorf("write %s: %w", jsonPath, err)
	}
	if err := os.WriteFile(mdPath, []byte(rep.markdown()), 0o644); err != nil {
		return "", "", fmt.Errorf("write %s: %w", mdPath, err)
	}
	return mdPath, jsonPath, nil
}
