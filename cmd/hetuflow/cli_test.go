package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	hf "github.com/hetuflow/hetuflow/client"
)

var update = flag.Bool("update", false, "rewrite the golden files of the CLI tests")

// cliEnv runs the hetuflow binary as a user would, against one server.
type cliEnv struct {
	t    *testing.T
	env  []string
	dir  string
	api  *hf.Client
	base string
}

// newCLIEnv starts a dev server (with its in-process agent) and returns a
// way to run CLI commands against it, with a private context file.
func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	dev := start(t, "dev", nil, "dev", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	base := dev.waitLine(devAddrRe, 20*time.Second)
	token := dev.waitLine(devTokenRe, 5*time.Second)
	api, err := hf.New(base, hf.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &cliEnv{t: t, dir: dir, api: api, base: base, env: []string{
		"HETUFLOW_SERVER=" + base, "HETUFLOW_TOKEN=" + token, "HETUFLOW_CONTEXT=",
		"HETUFLOW_CLI_CONFIG=" + filepath.Join(dir, "config.toml"),
	}}
}

// run runs hetuflow args… and returns stdout, stderr and the exit code.
func (e *cliEnv) run(env []string, args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(append(os.Environ(), e.env...), env...)
	cmd.Dir = e.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// ok runs a command that must succeed and returns its stdout.
func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(nil, args...)
	if code != 0 {
		e.t.Fatalf("hetuflow %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

var (
	uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRe = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
)

// normalise replaces ids and instants, which change from run to run.
func normalise(s string) string {
	return timeRe.ReplaceAllString(uuidRe.ReplaceAllString(s, "<id>"), "<time>")
}

// golden compares got with testdata/cli/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "cli", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file\n--- got:\n%s\n--- want:\n%s", name, got, want)
	}
}

func TestCLIApplyExportAndOutput(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	manifest := filepath.Join("testdata", "cli", "jobs.toml")
	canonical, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(manifest)

	// The dry run prints the plan and changes nothing.
	golden(t, "apply-dry-run.golden", e.ok("apply", "-f", abs, "--dry-run"))
	if res, err := e.api.QueryJobs(t.Context(), nil); err != nil || res.Page.Total != 0 {
		t.Fatalf("after --dry-run: %v jobs, %v; want none", res, err)
	}
	e.ok("apply", "-f", abs)

	// export(apply(f)) == f for a canonical file, in TOML; YAML holds the
	// same document and applies as a no-op too.
	if got := e.ok("export", "-o", "toml"); got != string(canonical) {
		t.Errorf("export after apply differs from the applied file\n--- export:\n%s\n--- file:\n%s", got, canonical)
	}
	yml := e.ok("export", "-o", "yaml")
	golden(t, "export.yaml.golden", yml)
	ymlPath := filepath.Join(e.dir, "jobs.yaml")
	if err := os.WriteFile(ymlPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{abs, ymlPath} {
		if got := e.ok("apply", "-f", f); got != "no changes\n" {
			t.Errorf("apply of the exported state (%s) = %q, want no changes", filepath.Base(f), got)
		}
	}
	if got := e.ok("export", "-o", "toml", "--namespace", "etl"); !strings.Contains(got, "name = 'report'") || strings.Contains(got, "backup") {
		t.Errorf("export --namespace etl = %q", got)
	}

	// Golden output of list and get in every format.
	for _, tc := range []struct{ name, golden string }{
		{"job list", "job-list.table.golden"},
		{"job list -o json", "job-list.json.golden"},
		{"job list -o yaml", "job-list.yaml.golden"},
		{"job get backup", "job-get.table.golden"},
		{"job get backup -o json", "job-get.json.golden"},
		{"job get report -n etl -o yaml", "job-get.yaml.golden"},
		{"schedule list --job backup", "schedule-list.table.golden"},
		{"schedule list --job backup -o json", "schedule-list.json.golden"},
	} {
		golden(t, tc.golden, normalise(e.ok(strings.Fields(tc.name)...)))
	}

	// schedule preview --id asks the server about a stored schedule.
	scheds, err := e.api.QuerySchedules(t.Context(), &hf.Query{Filter: map[string]any{"name": "yearly"}})
	if err != nil || len(scheds.Result) != 1 {
		t.Fatalf("yearly schedule: %v, %v", scheds, err)
	}
	if got := e.ok("schedule", "preview", "--id", scheds.Result[0].ID.String(), "-n", "2", "--from", "2030-06-01T00:00:00Z"); got != "2031-01-01T03:00:00Z\n2032-01-01T03:00:00Z\n" {
		t.Errorf("schedule preview --id = %q", got)
	}

	// A changed file shows a field diff, and a prune deletes only the
	// labelled jobs the files no longer name.
	changed := strings.Replace(string(canonical), "timeout = '30m0s'", "timeout = '1h0m0s'", 1)
	changed = strings.Replace(changed, "\n[[jobs]]\n  disabled = true\n  name = 'report'\n  namespace = 'etl'\n\n  [jobs.config]\n    interpreter = 'bash'\n    script = 'echo report'\n\n  [jobs.labels]\n    team = 'ops'\n", "", 1)
	changedPath := filepath.Join(e.dir, "changed.toml")
	if err := os.WriteFile(changedPath, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	golden(t, "apply-prune-dry-run.golden", e.ok("apply", "-f", changedPath, "--prune", "--selector", "team=ops", "--dry-run"))
	if _, stderr, code := e.run(nil, "apply", "-f", changedPath, "--prune"); code != exitConfig || !strings.Contains(stderr, "--selector") {
		t.Errorf("--prune without --selector: exit %d, %q; want %d naming --selector", code, stderr, exitConfig)
	}
	e.ok("apply", "-f", changedPath, "--prune", "--selector", "team=ops")
	if got := e.ok("export", "-o", "toml"); got != changed {
		t.Errorf("export after prune\n--- got:\n%s\n--- want:\n%s", got, changed)
	}
}

func TestCLIExitCodesAndWait(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	e.ok("job", "create", "good", "--command", "echo", "--arg", "fine")
	e.ok("job", "create", "bad", "--script", "echo failing; exit 7")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		text string
	}{
		{"unknown command", nil, []string{"nosuch"}, exitConfig, "unknown command"},
		{"unknown flag", nil, []string{"job", "list", "--bogus"}, exitConfig, "unknown flag"},
		{"missing argument", nil, []string{"job", "get"}, exitConfig, "accepts 1 arg"},
		{"bad output", nil, []string{"job", "list", "-o", "xml"}, exitConfig, "--output"},
		{"not found", nil, []string{"job", "get", "nosuch"}, exitNotFound, "not found"},
		{"not found by id", nil, []string{"run", "get", "01a21d48-47e8-7df7-b1e5-245440ca0170"}, exitNotFound, "404"},
		{"unauthorised", []string{"HETUFLOW_TOKEN=hf_wrong"}, []string{"job", "list"}, exitUnauthorized, "401"},
		{"conflict", nil, []string{"job", "create", "good", "--command", "true"}, exitConflict, "exists"},
		{"run failed", nil, []string{"job", "run", "bad", "--wait"}, exitRunFailed, "exit code 7"},
		{"run succeeded", nil, []string{"job", "run", "good", "--wait"}, exitOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := e.run(tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.text) {
				t.Errorf("hetuflow %s: exit %d, stderr %q; want exit %d and %q (stdout %q)", strings.Join(tc.args, " "), code, stderr, tc.code, tc.text, out)
			}
		})
	}
	// Off a terminal, --wait prints one plain line per status change and
	// ends on the final one.
	out := e.ok("job", "run", "good", "--wait")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, "succeeded (attempt 1)") || strings.Contains(out, "\r") {
		t.Errorf("job run --wait output %q: want plain lines ending in succeeded", out)
	}
	// run retry starts the same job again; run list shows all its runs.
	tasks, err := e.api.QueryTasks(t.Context(), &hf.Query{Filter: map[string]any{"status": "failed"}})
	if err != nil || len(tasks.Result) != 1 {
		t.Fatalf("failed tasks: %v, %v", tasks, err)
	}
	if _, _, code := e.run(nil, "run", "retry", tasks.Result[0].ID.String(), "--wait"); code != exitRunFailed {
		t.Errorf("run retry --wait of a failing job: exit %d, want %d", code, exitRunFailed)
	}
	if got := e.ok("run", "list", "--job", "bad", "-o", "json"); strings.Count(got, `"status": 90`) != 2 {
		t.Errorf("run list --job bad: want two failed runs, got %s", got)
	}
	// The importers' output applies cleanly to a real server, and a second
	// import changes nothing.
	for _, f := range []string{"xxl-job", "dkron"} {
		from, _ := filepath.Abs(filepath.Join("testdata", "import", f+".json"))
		e.ok("import", f, "--from", from, "--apply", "-n", "imported")
		if out, stderr, code := e.run(nil, "import", f, "--from", from, "--apply", "-n", "imported"); code != 0 || out != "no changes\n" || !strings.Contains(stderr, "notes:") {
			t.Errorf("second import %s: exit %d, %q, report %q; want no changes and the report", f, code, out, stderr)
		}
	}
	if res, err := e.api.QueryJobs(t.Context(), &hf.Query{Filter: map[string]any{"namespace": "imported"}}); err != nil || res.Page.Total != 10 {
		t.Errorf("imported jobs: %v, %v; want 10", res, err)
	}
	// job edit opens $EDITOR on the job's file and applies what it saves.
	if out, stderr, code := e.run([]string{"EDITOR=sed -i -e s/fine/edited/", "VISUAL="}, "job", "edit", "good"); code != 0 || !strings.Contains(out, `config.args[0]: "fine" → "edited"`) {
		t.Errorf("job edit: exit %d, %q, %q; want the args diff", code, out, stderr)
	}
	if got := e.ok("job", "get", "good", "-o", "yaml"); !strings.Contains(got, "- edited") {
		t.Errorf("job after edit: %s", got)
	}
	if got := e.ok("agents", "list"); !strings.Contains(got, "online") {
		t.Errorf("agents list = %q, want the dev agent online", got)
	}
	if got := e.ok("agent", "list", "-o", "json"); !strings.Contains(got, `"status": 100`) {
		t.Errorf("agent list = %q", got)
	}
}

func TestCLIContextFileAndCompletion(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	server, token := e.env[0][len("HETUFLOW_SERVER="):], e.env[1][len("HETUFLOW_TOKEN="):]
	xdg := t.TempDir()
	// Without flags or environment, and with XDG_CONFIG_HOME.
	noEnv := []string{"HETUFLOW_SERVER=", "HETUFLOW_TOKEN=", "HETUFLOW_CLI_CONFIG=", "XDG_CONFIG_HOME=" + xdg}
	if _, stderr, code := e.run(noEnv, "job", "list"); code != exitConfig || !strings.Contains(stderr, "token") {
		t.Errorf("job list without a token: exit %d, %q", code, stderr)
	}
	for _, args := range [][]string{
		{"context", "set", "broken", "--server", "http://127.0.0.1:1", "--token", "x"},
		{"context", "set", "dev", "--server", server, "--token", token},
	} {
		if out, stderr, code := e.run(noEnv, args...); code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, stderr)
		}
	}
	path := filepath.Join(xdg, "hetuflow", "config.toml")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("context file %s: %v, mode %v; want 0600", path, err, st)
	}
	// The first context set is current; it points at a dead server.
	if _, _, code := e.run(noEnv, "job", "list"); code != exitError {
		t.Errorf("job list on the broken context: exit %d, want %d", code, exitError)
	}
	if out, _, code := e.run(noEnv, "context", "use", "dev"); code != 0 || !strings.Contains(out, "dev") {
		t.Fatalf("context use dev: %d %q", code, out)
	}
	out, _, code := e.run(noEnv, "context", "list")
	golden(t, "context-list.golden", strings.ReplaceAll(out, server, "<server>"))
	if code != 0 {
		t.Errorf("context list: exit %d", code)
	}
	if out, stderr, code := e.run(noEnv, "job", "list"); code != 0 || !strings.HasPrefix(out, "NAMESPACE") {
		t.Errorf("job list through the context: exit %d, %q %q", code, out, stderr)
	}
	if _, _, code := e.run(noEnv, "job", "list", "--context", "broken"); code != exitError {
		t.Errorf("--context broken: exit %d, want %d", code, exitError)
	}
	if _, _, code := e.run(noEnv, "context", "use", "nosuch"); code != exitNotFound {
		t.Errorf("context use nosuch: exit %d, want %d", code, exitNotFound)
	}
	for shell, marker := range map[string]string{"bash": "complete -o", "zsh": "#compdef hetuflow", "fish": "complete -c hetuflow"} {
		if out := e.ok("completion", shell); !strings.Contains(out, marker) {
			t.Errorf("completion %s lacks %q", shell, marker)
		}
	}
	// Completion of subcommands comes from the binary itself.
	if out := e.ok("__complete", "job", ""); !strings.Contains(out, "list") || !strings.Contains(out, "run") {
		t.Errorf("__complete job: %q", out)
	}
}
