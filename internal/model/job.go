package model

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// DefaultNamespace is the namespace of anything created without one.
const DefaultNamespace = "default"

// Job is what to run: a command or script, its environment and limits, its
// retry policy and which agents may run it. Schedules say when.
type Job struct {
	ID          uuid.UUID `json:"id"`
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Status      JobStatus `json:"status"`
	Config      JobConfig `json:"config"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
}

// JobConfig is the task template of a [Job]. Each planned task keeps a copy
// (a snapshot), so editing a job never changes runs that are already planned.
type JobConfig struct {
	// Type is what a run does: "process" (the default) runs Command or
	// Script; "http" makes the HTTP request in HTTP from the agent itself.
	Type TaskType `json:"type,omitempty" enum:"process,http" doc:"process (default): run command or script; http: the agent makes the request in http."`
	// HTTP is the request of an http task.
	HTTP *HTTPTask `json:"http,omitempty" doc:"For type http: the request the agent makes."`
	// Command is run directly, without a shell, with Args. Exactly one of
	// Command and Script is set.
	Command string   `json:"command,omitempty" doc:"Program to run without a shell (exactly one of command and script)."`
	Args    []string `json:"args,omitempty" doc:"Arguments for command."`
	// Script is passed to Interpreter (default sh).
	Script      string `json:"script,omitempty" doc:"Script text, run by interpreter."`
	Interpreter string `json:"interpreter,omitempty" doc:"Interpreter for script: sh (default), bash, python3 or node."`
	// WorkDir is the working directory; empty means a fresh directory per run
	// under the agent's data directory.
	WorkDir string `json:"workdir,omitempty" doc:"Working directory on the agent; empty means a fresh directory per run."`
	// KeepWorkDir keeps the fresh per-run directory after the run.
	KeepWorkDir bool `json:"keep_workdir,omitempty" doc:"Keep the per-run working directory after the run."`
	// User runs the process as this user when the agent runs as root.
	User string            `json:"user,omitempty" doc:"Run as this user (name or uid); only when the agent runs as root."`
	Env  map[string]string `json:"env,omitempty" doc:"Environment variables added to the agent's environment."`
	// Timeout ends a run that lasts longer, killing its process group. Zero
	// means no limit.
	Timeout Duration `json:"timeout,omitempty" pattern:"^(0|-?([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$" patternDescription:"a duration such as 30s, 1m30s or 250ms" doc:"Run timeout, e.g. \"30s\"; empty or \"0s\" means none."`
	// KillGrace is how long a process group has between SIGTERM and SIGKILL
	// on timeout or cancel. Zero means 10s.
	KillGrace Duration    `json:"kill_grace,omitempty" pattern:"^(0|-?([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$" patternDescription:"a duration such as 30s, 1m30s or 250ms" doc:"Time between SIGTERM and SIGKILL; default 10s."`
	Retry     RetryPolicy `json:"retry,omitzero" doc:"What to do when a run fails."`
	// Labels select agents: every key must be present on the agent with the
	// same value. An agent without labels matches only an empty selector.
	Labels map[string]string `json:"labels,omitempty" doc:"Agent labels this job needs, all of them, with equal values."`
	// Limits caps the resources of each run.
	Limits *ResourceLimits `json:"limits,omitempty" doc:"Memory, CPU and process limits per run."`
	// OutputLimit caps the bytes kept per stream per run; the rest is dropped
	// and counted. Zero means 10 MiB.
	OutputLimit int64 `json:"output_limit,omitempty" doc:"Bytes of output kept per stream per run; default 10 MiB."`
}

// TaskType names what a run does.
type TaskType string

// Task types.
const (
	TaskProcess TaskType = "process"
	TaskHTTP    TaskType = "http"
)

// HTTPTask is a request an agent makes instead of running a process.
type HTTPTask struct {
	Method  string            `json:"method,omitempty" doc:"HTTP method; default GET."`
	URL     string            `json:"url" doc:"http:// or https:// URL."`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// ExpectStatus lists the statuses that count as success; empty means
	// any 2xx.
	ExpectStatus []int `json:"expect_status,omitempty" doc:"Statuses that count as success; empty means any 2xx."`
}

// ResourceLimits caps what one run may use. Zero fields mean no limit.
type ResourceLimits struct {
	MemoryMB int64   `json:"memory_mb,omitempty" minimum:"0" doc:"Memory in MiB; exceeding it ends the run as failed with reason oom."`
	CPU      float64 `json:"cpu,omitempty" minimum:"0" doc:"CPU in cores, e.g. 0.5."`
	Pids     int     `json:"pids,omitempty" minimum:"0" doc:"Most processes and threads at once."`
}

// RetryPolicy says how often and when a failed run is tried again. Every
// attempt is a new task instance.
type RetryPolicy struct {
	// MaxAttempts counts the first run; zero or one means no retry.
	MaxAttempts int `json:"max_attempts,omitempty" doc:"Total attempts including the first; 0 or 1 means no retry."`
	// Delay is the pause before each retry. Zero means 1s.
	Delay Duration `json:"delay,omitempty" pattern:"^(0|-?([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$" patternDescription:"a duration such as 30s, 1m30s or 250ms" doc:"Pause before each retry; default 1s."`
}

// Defaults for JobConfig fields whose zero value means "the default".
const (
	DefaultKillGrace   = 10 * time.Second
	DefaultOutputLimit = 10 << 20
	DefaultRetryDelay  = time.Second
	MaxRetryAttempts   = 100
)

// Interpreters maps the interpreter names a script may use to the argv
// prefix that runs an inline script.
var interpreters = map[string][]string{
	"sh":      {"sh", "-c"},
	"bash":    {"bash", "-c"},
	"python3": {"python3", "-c"},
	"node":    {"node", "-e"},
}

// InterpreterArgv returns the argv prefix for running an inline script with
// the named interpreter, and false for an unknown name. An empty name is sh.
func InterpreterArgv(name string) ([]string, bool) {
	if name == "" {
		name = "sh"
	}
	a, ok := interpreters[name]
	return a, ok
}

// EffectiveKillGrace returns KillGrace or its default.
func (c *JobConfig) EffectiveKillGrace() time.Duration {
	if c.KillGrace <= 0 {
		return DefaultKillGrace
	}
	return c.KillGrace.D()
}

// EffectiveOutputLimit returns OutputLimit or its default.
func (c *JobConfig) EffectiveOutputLimit() int64 {
	if c.OutputLimit <= 0 {
		return DefaultOutputLimit
	}
	return c.OutputLimit
}

// Attempts returns the total number of attempts allowed, at least 1.
func (p RetryPolicy) Attempts() int {
	if p.MaxAttempts < 1 {
		return 1
	}
	return p.MaxAttempts
}

// RetryDelay returns the pause before retry attempt n (n ≥ 2).
func (p RetryPolicy) RetryDelay(int) time.Duration {
	if p.Delay <= 0 {
		return DefaultRetryDelay
	}
	return p.Delay.D()
}

var (
	envNameRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	labelKeyRe  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$`)
	nameRe      = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$`)
	namespaceRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// ValidateName checks a job or schedule name: 1–128 letters, digits, '.', '_'
// or '-', starting and ending with a letter or digit.
func ValidateName(field, name string) error {
	if !nameRe.MatchString(name) {
		return Errorf(field, "must be 1-128 letters, digits, '.', '_' or '-', starting and ending with a letter or digit")
	}
	return nil
}

// ValidateNamespace checks a namespace id: lower-case DNS label rules.
func ValidateNamespace(field, ns string) error {
	if !namespaceRe.MatchString(ns) {
		return Errorf(field, "must be 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit")
	}
	return nil
}

// ValidateLabels checks label keys and values.
func ValidateLabels(field string, labels map[string]string) error {
	for _, k := range sortedKeys(labels) {
		if !labelKeyRe.MatchString(k) {
			return Errorf(field+"."+k, "label key must be 1-128 letters, digits, '.', '_', '/' or '-'")
		}
		if len(labels[k]) > 256 {
			return Errorf(field+"."+k, "label value is longer than 256 bytes")
		}
	}
	return nil
}

// Validate checks c and returns a *FieldError naming the first bad field
// (relative to the config, e.g. "timeout").
func (c *JobConfig) Validate() error {
	switch c.Type {
	case "", TaskProcess:
		if c.HTTP != nil {
			return Errorf("http", "needs type http")
		}
	case TaskHTTP:
		if err := c.validateHTTP(); err != nil {
			return err
		}
		return c.validateCommon()
	default:
		return Errorf("type", "unknown task type %q (use process or http)", c.Type)
	}
	switch {
	case c.Command == "" && c.Script == "":
		return Errorf("command", "one of command and script is required")
	case c.Command != "" && c.Script != "":
		return Errorf("script", "command and script cannot both be set")
	case c.Command == "" && len(c.Args) > 0:
		return Errorf("args", "args need a command")
	}
	if c.Script == "" && c.Interpreter != "" {
		return Errorf("interpreter", "interpreter needs a script")
	}
	if _, ok := InterpreterArgv(c.Interpreter); !ok {
		return Errorf("interpreter", "unknown interpreter %q (use sh, bash, python3 or node)", c.Interpreter)
	}
	for _, k := range sortedKeys(c.Env) {
		if !envNameRe.MatchString(k) {
			return Errorf("env."+k, "not a valid environment variable name")
		}
	}
	return c.validateCommon()
}

// validateCommon checks the fields every task type shares.
func (c *JobConfig) validateCommon() error {
	if c.Timeout < 0 {
		return Errorf("timeout", "must not be negative")
	}
	if l := c.Limits; l != nil && (l.MemoryMB < 0 || l.CPU < 0 || l.Pids < 0) {
		return Errorf("limits", "must not be negative")
	}
	if c.KillGrace < 0 {
		return Errorf("kill_grace", "must not be negative")
	}
	if c.OutputLimit < 0 {
		return Errorf("output_limit", "must not be negative")
	}
	if c.Retry.MaxAttempts < 0 || c.Retry.MaxAttempts > MaxRetryAttempts {
		return Errorf("retry.max_attempts", "must be between 0 and %d", MaxRetryAttempts)
	}
	if c.Retry.Delay < 0 {
		return Errorf("retry.delay", "must not be negative")
	}
	return ValidateLabels("labels", c.Labels)
}

func (c *JobConfig) validateHTTP() error {
	switch {
	case c.HTTP == nil:
		return Errorf("http", "is required for type http")
	case c.Command != "" || c.Script != "" || len(c.Args) > 0:
		return Errorf("command", "an http task runs no command or script")
	case !strings.HasPrefix(c.HTTP.URL, "http://") && !strings.HasPrefix(c.HTTP.URL, "https://"):
		return Errorf("http.url", "must be an http:// or https:// URL")
	}
	if _, err := url.Parse(c.HTTP.URL); err != nil {
		return Errorf("http.url", "%v", err)
	}
	switch strings.ToUpper(c.HTTP.Method) {
	case "", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		return Errorf("http.method", "unknown method %q", c.HTTP.Method)
	}
	for i, s := range c.HTTP.ExpectStatus {
		if s < 100 || s > 599 {
			return Errorf(fmt.Sprintf("http.expect_status[%d]", i), "must be between 100 and 599")
		}
	}
	return nil
}

// MatchLabels reports whether an agent with the given labels may run a job
// that needs want. Every wanted key must be present with the same value, so
// an agent without labels matches only an empty selector.
func MatchLabels(want, have map[string]string) bool {
	for k, v := range want {
		hv, ok := have[k]
		if !ok || hv != v {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
