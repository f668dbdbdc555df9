package ui

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
)

// jobForm is the job editor's fields as text, so a form with errors comes
// back exactly as typed.
type jobForm struct {
	ID, Name, Namespace, Description         string
	Enabled                                  bool
	Type, Command, Args, Script, Interpreter string
	WorkDir, User, Env                       string
	KeepWorkDir                              bool
	Timeout, KillGrace, NoAgentTimeout       string
	RetryMax, RetryBackoff, RetryDelay       string
	RetryMaxDelay, RetryOn                   string
	RetryJitter                              bool
	Overlap, QueueSize, MaxConcurrency       string
	Params, Labels, Selector                 string
	Routing, HashKey, Prefer, Success        string
	MemoryMB, CPU, Pids, OutputLimit         string
	HTTPMethod, HTTPURL, HTTPHeaders         string
	HTTPBody, HTTPExpect, Triggers           string
}

// formFromJob fills the editor from a stored job.
func formFromJob(j *model.Job) *jobForm {
	c := j.Config
	f := &jobForm{
		ID: j.ID.String(), Name: j.Name, Namespace: j.Namespace, Description: j.Description, Enabled: j.Status == model.JobEnabled,
		Type: string(c.Type), Command: c.Command, Args: strings.Join(c.Args, "\n"), Script: c.Script, Interpreter: c.Interpreter,
		WorkDir: c.WorkDir, KeepWorkDir: c.KeepWorkDir, User: c.User, Env: pairs(c.Env),
		Timeout: dur(c.Timeout), KillGrace: dur(c.KillGrace), NoAgentTimeout: dur(c.NoAgentTimeout),
		RetryMax: num(int64(c.Retry.MaxAttempts)), RetryBackoff: c.Retry.Backoff, RetryDelay: dur(c.Retry.Delay), RetryMaxDelay: dur(c.Retry.MaxDelay),
		RetryOn: strings.Join(c.Retry.RetryOn, ","), RetryJitter: c.Retry.Jitter,
		Overlap: c.Overlap.Policy, QueueSize: num(int64(c.Overlap.QueueSize)), MaxConcurrency: num(int64(c.MaxConcurrency)),
		Labels: pairs(c.Labels), Selector: c.Selector.String(),
		Routing: string(c.Routing.Strategy), HashKey: c.Routing.HashKey, Prefer: strings.Join(c.Routing.Prefer, ","), Success: string(c.Routing.Success),
		OutputLimit: num(c.OutputLimit),
	}
	var ps []string
	for _, p := range c.Params {
		line := p.Name + "=" + p.Default
		if p.Required {
			line += " !required"
		}
		if p.Description != "" {
			line += " # " + p.Description
		}
		ps = append(ps, line)
	}
	f.Params = strings.Join(ps, "\n")
	if l := c.Limits; l != nil {
		f.MemoryMB, f.Pids = num(l.MemoryMB), num(int64(l.Pids))
		if l.CPU != 0 {
			f.CPU = strconv.FormatFloat(l.CPU, 'f', -1, 64)
		}
	}
	if h := c.HTTP; h != nil {
		f.HTTPMethod, f.HTTPURL, f.HTTPHeaders, f.HTTPBody = h.Method, h.URL, pairs(h.Headers), h.Body
		var st []string
		for _, s := range h.ExpectStatus {
			st = append(st, strconv.Itoa(s))
		}
		f.HTTPExpect = strings.Join(st, ",")
	}
	var tr []string
	for _, t := range c.Triggers {
		tr = append(tr, t.On+" "+t.JobID.String())
	}
	f.Triggers = strings.Join(tr, "\n")
	return f
}

// formFromPost reads the editor's fields.
func formFromPost(v url.Values) *jobForm {
	g := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return &jobForm{
		Name: g("name"), Namespace: g("namespace"), Description: g("description"), Enabled: v.Get("enabled") == "1",
		Type: g("type"), Command: g("command"), Args: v.Get("args"), Script: v.Get("script"), Interpreter: g("interpreter"),
		WorkDir: g("workdir"), KeepWorkDir: v.Get("keep_workdir") == "1", User: g("user"), Env: v.Get("env"),
		Timeout: g("timeout"), KillGrace: g("kill_grace"), NoAgentTimeout: g("no_agent_timeout"),
		RetryMax: g("retry.max_attempts"), RetryBackoff: g("retry.backoff"), RetryDelay: g("retry.delay"), RetryMaxDelay: g("retry.max_delay"),
		RetryOn: g("retry.retry_on"), RetryJitter: v.Get("retry.jitter") == "1",
		Overlap: g("overlap.policy"), QueueSize: g("overlap.queue_size"), MaxConcurrency: g("max_concurrency"),
		Params: v.Get("params"), Labels: v.Get("labels"), Selector: g("selector"),
		Routing: g("routing.strategy"), HashKey: g("routing.hash_key"), Prefer: g("routing.prefer"), Success: g("routing.success"),
		MemoryMB: g("limits.memory_mb"), CPU: g("limits.cpu"), Pids: g("limits.pids"), OutputLimit: g("output_limit"),
		HTTPMethod: g("http.method"), HTTPURL: g("http.url"), HTTPHeaders: v.Get("http.headers"), HTTPBody: v.Get("http.body"),
		HTTPExpect: g("http.expect_status"), Triggers: v.Get("triggers"),
	}
}

// body turns the form into the API's job body. Errors name the form field
// and are reported like the API's.
func (f *jobForm) body() (api.JobBody, map[string]string) {
	errs := map[string]string{}
	b := api.JobBody{Namespace: f.Namespace, Name: f.Name, Description: f.Description, Status: model.JobDisabled}
	if f.Enabled {
		b.Status = model.JobEnabled
	}
	c := &b.Config
	c.Type = model.TaskType(f.Type)
	c.Command, c.Script, c.Interpreter, c.WorkDir, c.KeepWorkDir, c.User = f.Command, f.Script, f.Interpreter, f.WorkDir, f.KeepWorkDir, f.User
	c.Args = lines(f.Args)
	c.Env = parsePairs(f.Env, "env", errs)
	c.Timeout = parseDur(f.Timeout, "timeout", errs)
	c.KillGrace = parseDur(f.KillGrace, "kill_grace", errs)
	c.NoAgentTimeout = parseDur(f.NoAgentTimeout, "no_agent_timeout", errs)
	c.Retry = model.RetryPolicy{MaxAttempts: int(parseInt(f.RetryMax, "retry.max_attempts", errs)), Backoff: f.RetryBackoff,
		Delay: parseDur(f.RetryDelay, "retry.delay", errs), MaxDelay: parseDur(f.RetryMaxDelay, "retry.max_delay", errs), Jitter: f.RetryJitter}
	if f.RetryOn != "" {
		c.Retry.RetryOn = splitComma(f.RetryOn)
	}
	c.Overlap = model.OverlapPolicy{Policy: f.Overlap, QueueSize: int(parseInt(f.QueueSize, "overlap.queue_size", errs))}
	c.MaxConcurrency = int(parseInt(f.MaxConcurrency, "max_concurrency", errs))
	for _, l := range lines(f.Params) {
		p := model.ParamSpec{}
		if before, after, ok := strings.Cut(l, " # "); ok {
			l, p.Description = before, strings.TrimSpace(after)
		}
		if before, ok := strings.CutSuffix(strings.TrimSpace(l), "!required"); ok {
			l, p.Required = before, true
		}
		name, def, _ := strings.Cut(strings.TrimSpace(l), "=")
		p.Name, p.Default = strings.TrimSpace(name), def
		c.Params = append(c.Params, p)
	}
	c.Labels = parsePairs(f.Labels, "labels", errs)
	if f.Selector != "" {
		s, err := model.ParseSelector(f.Selector)
		if err != nil {
			errs["selector"] = err.Error()
		}
		c.Selector = s
	}
	c.Routing = model.Routing{Strategy: model.RoutingStrategy(f.Routing), HashKey: f.HashKey, Success: model.BroadcastSuccess(f.Success)}
	if f.Prefer != "" {
		c.Routing.Prefer = splitComma(f.Prefer)
	}
	mem, cpu, pids := parseInt(f.MemoryMB, "limits.memory_mb", errs), 0.0, parseInt(f.Pids, "limits.pids", errs)
	if f.CPU != "" {
		var err error
		if cpu, err = strconv.ParseFloat(f.CPU, 64); err != nil {
			errs["limits.cpu"] = "must be a number such as 0.5"
		}
	}
	if mem != 0 || cpu != 0 || pids != 0 {
		c.Limits = &model.ResourceLimits{MemoryMB: mem, CPU: cpu, Pids: int(pids)}
	}
	c.OutputLimit = parseInt(f.OutputLimit, "output_limit", errs)
	if c.Type == model.TaskHTTP || f.HTTPURL != "" {
		h := &model.HTTPTask{Method: f.HTTPMethod, URL: f.HTTPURL, Headers: parsePairs(f.HTTPHeaders, "http.headers", errs), Body: f.HTTPBody}
		for _, s := range splitComma(f.HTTPExpect) {
			n, err := strconv.Atoi(s)
			if err != nil {
				errs["http.expect_status"] = "must be status codes such as 200,204"
			}
			h.ExpectStatus = append(h.ExpectStatus, n)
		}
		c.HTTP = h
	}
	for _, l := range lines(f.Triggers) {
		on, id, _ := strings.Cut(strings.TrimSpace(l), " ")
		jid, err := uuid.Parse(strings.TrimSpace(id))
		if err != nil {
			errs["triggers"] = "each line: success|failure|end <job id>"
			continue
		}
		c.Triggers = append(c.Triggers, model.JobTrigger{On: on, JobID: jid})
	}
	return b, errs
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimRight(l, " \t"))
		}
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func pairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return b.String()
}

func parsePairs(s, field string, errs map[string]string) map[string]string {
	ls := lines(s)
	if len(ls) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, l := range ls {
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.TrimSpace(k) == "" {
			errs[field] = "each line: NAME=value"
			continue
		}
		m[strings.TrimSpace(k)] = v
	}
	return m
}

func parseDur(s, field string, errs map[string]string) model.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		errs[field] = "must be a duration such as 30s, 1m30s or 250ms"
	}
	return model.Duration(d)
}

func parseInt(s, field string, errs map[string]string) int64 {
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		errs[field] = "must be a whole number"
	}
	return n
}

func dur(d model.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func num(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// option lists for the editor's selects; the values are the API's.
var (
	taskTypes       = []string{"process", "http"}
	interpreters    = []string{"", "sh", "bash", "python3", "node"}
	backoffs        = []string{"", "fixed", "linear", "exponential"}
	overlaps        = []string{"", "allow", "forbid", "queue", "replace"}
	routings        = []string{"", "least_loaded", "round_robin", "random", "consistent_hash", "failover", "broadcast"}
	successes       = []string{"", "all", "any", "quorum"}
	misfirePolicies = []string{"", "skip", "fire_once", "fire_all"}
)
