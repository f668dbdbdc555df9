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
	// Overlap says what a run due while an earlier one of the job is still
	// running does.
	Overlap OverlapPolicy `json:"overlap,omitzero" doc:"What a run does while an earlier one of this job is still running."`
	// MaxConcurrency caps the job's runs at once across the cluster; zero
	// means no cap. Runs beyond it wait.
	MaxConcurrency int `json:"max_concurrency,omitempty" minimum:"0" doc:"Most runs of this job at once across the cluster; 0 means no cap."`
	// Params declares the parameters a run accepts, with defaults.
	Params []ParamSpec `json:"params,omitempty" doc:"Parameters a run takes: HETUFLOW_PARAM_<NAME> and {{.Params.name}} in args and script."`
	// NoAgentTimeout fails a run that no connected agent can take (its
	// labels match none) for this long. Zero means 10m.
	NoAgentTimeout Duration `json:"no_agent_timeout,omitempty" pattern:"^(0|-?([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$" patternDescription:"a duration such as 10m" doc:"Fail a run no agent can take after this long; default 10m."`
	// Triggers start other jobs when a run of this one ends.
	Triggers []JobTrigger `json:"triggers,omitempty" doc:"Jobs to start when a run of this job succeeds, fails or ends."`
	// Labels select agents: every key must be present on the agent with the
	// same value. An agent without labels matches only an empty selector.
	Labels map[string]string `json:"labels,omitempty" doc:"Agent labels this job needs, all of them, with equal values (shorthand for = requirements)."`
	// Selector adds label requirements with operators; an agent must meet
	// Labels and every requirement.
	Selector Selector `json:"selector,omitempty" doc:"Label requirements with operators =, !=, in, notin, exists, !exists; all must hold."`
	// Routing chooses among the matching agents.
	Routing Routing `json:"routing,omitzero" doc:"How the agent is chosen among those that match."`
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
	// Backoff is fixed (every pause is Delay), linear (Delay × n) or
	// exponential (Delay × 2^(n-1)), capped by MaxDelay.
	Backoff string `json:"backoff,omitempty" enum:"fixed,linear,exponential" doc:"fixed (default), linear or exponential."`
	// Delay is the first pause. Zero means 1s.
	Delay Duration `json:"delay,omitempty" pattern:"^(0|-?([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$" patternDescription:"a duration such as 30s, 1m30s or 250ms" doc:"Pause before the first retry; default 1s."`
	// MaxDelay caps a pause. Zero means 1h.
	MaxDelay Duration `json:"max_delay,omitempty" pattern:"^(0|-?([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$" patternDescription:"a duration such as 10m" doc:"Longest pause; default 1h."`
	// Jitter spreads each pause randomly over [pause/2, pause], so many
	// runs failing together do not retry together.
	Jitter bool `json:"jitter,omitempty" doc:"Spread each pause randomly over its second half."`
	// RetryOn lists what is retried: exit_code (non-zero exit or failure to
	// start), timeout, lost (the agent went away). Empty means all three.
	RetryOn []string `json:"retry_on,omitempty" doc:"What is retried: exit_code, timeout, lost; empty means all."`
}

// Retry reasons for RetryPolicy.RetryOn.
const (
	RetryOnExitCode = "exit_code"
	RetryOnTimeout  = "timeout"
	RetryOnLost     = "lost"
)

// Retries reports whether a failure of the kind (a RetryOn value) is retried.
func (p RetryPolicy) Retries(kind string) bool {
	if len(p.RetryOn) == 0 {
		return true
	}
	for _, k := range p.RetryOn {
		if k == kind {
			return true
		}
	}
	return false
}

// DefaultMaxRetryDelay caps retry pauses when MaxDelay is zero.
const DefaultMaxRetryDelay = time.Hour

// Overlap policies.
const (
	OverlapAllow   = "allow"
	OverlapForbid  = "forbid"
	OverlapQueue   = "queue"
	OverlapReplace = "replace"
)

// OverlapPolicy says what a run does when it is due while an earlier run of
// the same job has not finished.
type OverlapPolicy struct {
	// Policy is allow (the default: run anyway), forbid (record this run
	// Skipped), queue (wait for the earlier run, at most QueueSize waiting;
	// more are Skipped) or replace (cancel the earlier run, then start).
	Policy string `json:"policy,omitempty" enum:"allow,forbid,queue,replace" doc:"allow (default), forbid, queue or replace."`
	// QueueSize is how many runs may wait under queue. Zero means 1.
	QueueSize int `json:"queue_size,omitempty" minimum:"0" maximum:"1000" doc:"queue: most runs waiting; default 1."`
}

// EffectivePolicy returns Policy or its default.
func (o OverlapPolicy) EffectivePolicy() string {
	if o.Policy == "" {
		return OverlapAllow
	}
	return o.Policy
}

// EffectiveQueueSize returns QueueSize or its default.
func (o OverlapPolicy) EffectiveQueueSize() int {
	if o.QueueSize <= 0 {
		return 1
	}
	return o.QueueSize
}

// ParamSpec declares one parameter of a job.
type ParamSpec struct {
	Name        string `json:"name" doc:"Letters, digits and _; starts with a letter."`
	Default     string `json:"default,omitempty"`
	Required    bool   `json:"required,omitempty" doc:"A run must give a value (a default does not count)."`
	Description string `json:"description,omitempty"`
}

// Trigger conditions.
const (
	TriggerOnSuccess = "success"
	TriggerOnFailure = "failure"
	TriggerOnEnd     = "end"
)

// JobTrigger starts another job when a run of this one ends.
type JobTrigger struct {
	On    string    `json:"on" enum:"success,failure,end" doc:"success, failure (failed, timed out or lost for good) or end (any final state but skipped)."`
	JobID uuid.UUID `json:"job_id" doc:"The job to start."`
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

// RetryDelay returns the pause after failed attempt n (n ≥ 1) before the
// next, without jitter.
func (p RetryPolicy) RetryDelay(n int) time.Duration {
	d := DefaultRetryDelay
	if p.Delay > 0 {
		d = p.Delay.D()
	}
	maxDelay := DefaultMaxRetryDelay
	if p.MaxDelay > 0 {
		maxDelay = p.MaxDelay.D()
	}
	n = max(n, 1)
	switch p.Backoff {
	case "linear":
		if time.Duration(n) > maxDelay/d {
			return maxDelay
		}
		d *= time.Duration(n)
	case "exponential":
		for i := 1; i < n && d < maxDelay; i++ {
			d *= 2
		}
	}
	return min(d, maxDelay)
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
	if err := c.Retry.validate(); err != nil {
		return Prefix("retry", err)
	}
	switch c.Overlap.Policy {
	case "", OverlapAllow, OverlapForbid, OverlapQueue, OverlapReplace:
	default:
		return Errorf("overlap.policy", "unknown overlap policy %q (use allow, forbid, queue or replace)", c.Overlap.Policy)
	}
	if c.Overlap.QueueSize < 0 || c.Overlap.QueueSize > 1000 {
		return Errorf("overlap.queue_size", "must be between 0 and 1000")
	}
	if c.MaxConcurrency < 0 {
		return Errorf("max_concurrency", "must not be negative")
	}
	if c.NoAgentTimeout < 0 {
		return Errorf("no_agent_timeout", "must not be negative")
	}
	seen := map[string]bool{}
	for i, p := range c.Params {
		if !paramNameRe.MatchString(p.Name) {
			return Errorf(fmt.Sprintf("params[%d].name", i), "must be a letter then letters, digits or _ (at most 64)")
		}
		if seen[p.Name] {
			return Errorf(fmt.Sprintf("params[%d].name", i), "%q is declared twice", p.Name)
		}
		seen[p.Name] = true
	}
	// Every template must resolve from the declared parameters alone.
	if _, err := RenderConfig(*c, DefaultParams(c.Params)); err != nil {
		return err
	}
	for i, t := range c.Triggers {
		switch t.On {
		case TriggerOnSuccess, TriggerOnFailure, TriggerOnEnd:
		default:
			return Errorf(fmt.Sprintf("triggers[%d].on", i), "must be success, failure or end")
		}
		if t.JobID == uuid.Nil {
			return Errorf(fmt.Sprintf("triggers[%d].job_id", i), "is required")
		}
	}
	if err := c.Routing.validate(c.Params); err != nil {
		return Prefix("routing", err)
	}
	if err := c.Selector.Validate("selector"); err != nil {
		return err
	}
	return ValidateLabels("labels", c.Labels)
}

func (p RetryPolicy) validate() error {
	if p.MaxAttempts < 0 || p.MaxAttempts > MaxRetryAttempts {
		return Errorf("max_attempts", "must be between 0 and %d", MaxRetryAttempts)
	}
	switch p.Backoff {
	case "", "fixed", "linear", "exponential":
	default:
		return Errorf("backoff", "unknown backoff %q (use fixed, linear or exponential)", p.Backoff)
	}
	if p.Delay < 0 {
		return Errorf("delay", "must not be negative")
	}
	if p.MaxDelay < 0 {
		return Errorf("max_delay", "must not be negative")
	}
	for i, k := range p.RetryOn {
		if k != RetryOnExitCode && k != RetryOnTimeout && k != RetryOnLost {
			return Errorf(fmt.Sprintf("retry_on[%d]", i), "unknown %q (use exit_code, timeout or lost)", k)
		}
	}
	return nil
}

// EffectiveNoAgentTimeout returns NoAgentTimeout or its default.
func (c *JobConfig) EffectiveNoAgentTimeout() time.Duration {
	if c.NoAgentTimeout <= 0 {
		return DefaultNoAgentTimeout
	}
	return c.NoAgentTimeout.D()
}

// DefaultNoAgentTimeout is how long a run no agent can take waits.
const DefaultNoAgentTimeout = 10 * time.Minute

var paramNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

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

// MatchesAgent reports whether an agent with the given labels may run the
// job: it has every one of Labels with the same value and meets Selector.
func (c *JobConfig) MatchesAgent(labels map[string]string) bool {
	for k, v := range c.Labels {
		if hv, ok := labels[k]; !ok || hv != v {
			return false
		}
	}
	return c.Selector.Matches(labels)
}

// DescribeSelector writes the job's agent requirements (Labels and
// Selector) in selector text form, or "any agent".
func (c *JobConfig) DescribeSelector() string {
	var all Selector
	for _, k := range sortedKeys(c.Labels) {
		all = append(all, LabelRequirement{Key: k, Op: SelectorEquals, Values: []string{c.Labels[k]}})
	}
	all = append(all, c.Selector...)
	if len(all) == 0 {
		return "any agent"
	}
	return all.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
