package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// importReport lists, per job, what did not map exactly.
type importReport struct {
	lines []string
}

func (r *importReport) add(job, format string, a ...any) {
	r.lines = append(r.lines, job+": "+fmt.Sprintf(format, a...))
}

// importedLabel marks imported jobs, so apply --prune --selector
// imported_from=<system> can manage them.
const importedLabel = "imported_from"

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// slug turns free text into a job name part: lower-case ASCII letters and
// digits joined by '-'.
func slug(s string, max int) string {
	out := strings.Trim(slugRe.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(out) > max {
		out = strings.Trim(out[:max], "-")
	}
	return out
}

// xxlJob is one job of XXL-JOB's admin (XxlJobInfo), as its job info list
// (jobinfo/pageList) returns it.
type xxlJob struct {
	ID                     int    `json:"id"`
	JobGroup               int    `json:"jobGroup"`
	JobDesc                string `json:"jobDesc"`
	Author                 string `json:"author"`
	AlarmEmail             string `json:"alarmEmail"`
	ScheduleType           string `json:"scheduleType"`
	ScheduleConf           string `json:"scheduleConf"`
	JobCron                string `json:"jobCron"` // before 2.3.0
	MisfireStrategy        string `json:"misfireStrategy"`
	ExecutorRouteStrategy  string `json:"executorRouteStrategy"`
	ExecutorHandler        string `json:"executorHandler"`
	ExecutorParam          string `json:"executorParam"`
	ExecutorBlockStrategy  string `json:"executorBlockStrategy"`
	ExecutorTimeout        int    `json:"executorTimeout"`
	ExecutorFailRetryCount int    `json:"executorFailRetryCount"`
	GlueType               string `json:"glueType"`
	GlueSource             string `json:"glueSource"`
	GlueRemark             string `json:"glueRemark"`
	ChildJobID             string `json:"childJobId"`
	TriggerStatus          int    `json:"triggerStatus"`
}

// decodeXXLJobs accepts a JSON array of jobs, the pageList answer
// ({"data": [...]}) or the ReturnT wrapper ({"content": {"data": [...]}}).
func decodeXXLJobs(data []byte) ([]xxlJob, error) {
	var list []xxlJob
	if err := json.Unmarshal(data, &list); err == nil {
		return list, nil
	}
	var page struct {
		Data    []xxlJob `json:"data"`
		Content *struct {
			Data []xxlJob `json:"data"`
		} `json:"content"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, fmt.Errorf("not an XXL-JOB job list (a JSON array of job infos, or {\"data\": [...]}): %w", err)
	}
	if page.Content != nil {
		return page.Content.Data, nil
	}
	return page.Data, nil
}

var xxlRouting = map[string]model.RoutingStrategy{
	"ROUND": model.RouteRoundRobin, "RANDOM": model.RouteRandom, "CONSISTENT_HASH": model.RouteConsistentHash,
	"FAILOVER": model.RouteFailover, "SHARDING_BROADCAST": model.RouteBroadcast,
}

// xxlApprox are routing strategies with no exact match: what they become.
var xxlApprox = map[string]model.RoutingStrategy{
	"FIRST": model.RouteFailover, "LAST": model.RouteLeastLoaded, "LEAST_FREQUENTLY_USED": model.RouteLeastLoaded,
	"LEAST_RECENTLY_USED": model.RouteLeastLoaded, "BUSYOVER": model.RouteLeastLoaded,
}

var xxlInterpreters = map[string]string{"GLUE_SHELL": "bash", "GLUE_PYTHON": "python3", "GLUE_NODEJS": "node"}

// importXXLJob translates XXL-JOB jobs into a manifest and a report.
func importXXLJob(data []byte, namespace string) (*manifest, *importReport, error) {
	jobs, err := decodeXXLJobs(data)
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].ID < jobs[b].ID })
	rep := &importReport{}
	names := map[int]string{}
	for _, x := range jobs {
		name := fmt.Sprintf("xxl-%d", x.ID)
		if s := slug(x.JobDesc, 60); s != "" {
			name += "-" + s
		}
		names[x.ID] = name
	}
	m := &manifest{Jobs: []*manifestJob{}}
	for _, x := range jobs {
		name := names[x.ID]
		j := &manifestJob{Namespace: namespace, Name: name, Description: x.JobDesc, Disabled: x.TriggerStatus != 1,
			Labels: map[string]string{importedLabel: "xxl_job", "xxl_job_id": strconv.Itoa(x.ID)}}
		cfg := &j.Config
		// What runs.
		switch gt := x.GlueType; {
		case xxlInterpreters[gt] != "":
			cfg.Script, cfg.Interpreter = x.GlueSource, xxlInterpreters[gt]
			if x.ExecutorParam != "" {
				// XXL-JOB passes the parameter as the script's first
				// argument; a script here reads it from the environment.
				cfg.Env = map[string]string{"XXL_JOB_PARAM": x.ExecutorParam}
				rep.add(name, "executorParam is in $XXL_JOB_PARAM, not $1")
			}
		case gt == "BEAN" || gt == "":
			cfg.Command = cmpOr(x.ExecutorHandler, "true")
			if x.ExecutorParam != "" {
				cfg.Args = strings.Fields(x.ExecutorParam)
			}
			j.Disabled = true
			rep.add(name, "glueType BEAN: handler %q runs inside a Java executor; imported as the command %q, disabled until you give it a real command", x.ExecutorHandler, cfg.Command)
		default:
			cfg.Script, cfg.Interpreter = x.GlueSource, "sh"
			j.Disabled = true
			rep.add(name, "glueType %s has no interpreter here; the source is kept as an sh script, disabled", gt)
		}
		// Which agent.
		if x.JobGroup != 0 {
			cfg.Labels = map[string]string{"xxl_job_group": strconv.Itoa(x.JobGroup)}
			rep.add(name, "jobGroup %d (executor app) became the agent selector xxl_job_group=%d: label the agents that should run it", x.JobGroup, x.JobGroup)
		}
		if r, ok := xxlRouting[x.ExecutorRouteStrategy]; ok {
			cfg.Routing.Strategy = r
		} else if r, ok := xxlApprox[x.ExecutorRouteStrategy]; ok {
			cfg.Routing.Strategy = r
			rep.add(name, "executorRouteStrategy %s has no exact match; routing is %s", x.ExecutorRouteStrategy, r)
		} else if x.ExecutorRouteStrategy != "" {
			rep.add(name, "executorRouteStrategy %s is unknown; routing left at the default", x.ExecutorRouteStrategy)
		}
		switch x.ExecutorBlockStrategy {
		case "", "SERIAL_EXECUTION":
			if x.ExecutorBlockStrategy != "" {
				cfg.Overlap = model.OverlapPolicy{Policy: "queue", QueueSize: 1000}
				rep.add(name, "executorBlockStrategy SERIAL_EXECUTION: overlap queue, at most 1000 waiting (XXL-JOB has no bound)")
			}
		case "DISCARD_LATER":
			cfg.Overlap.Policy = "forbid"
		case "COVER_EARLY":
			cfg.Overlap.Policy = "replace"
		default:
			rep.add(name, "executorBlockStrategy %s is unknown; overlap left at allow", x.ExecutorBlockStrategy)
		}
		if x.ExecutorTimeout > 0 {
			cfg.Timeout = model.Duration(time.Duration(x.ExecutorTimeout) * time.Second)
		}
		if x.ExecutorFailRetryCount > 0 {
			cfg.Retry = model.RetryPolicy{MaxAttempts: x.ExecutorFailRetryCount + 1}
		}
		// When.
		s := &manifestSchedule{Name: "xxl"}
		switch x.MisfireStrategy {
		case "DO_NOTHING":
			s.Misfire.Policy = "skip"
		case "FIRE_ONCE_NOW":
			s.Misfire.Policy = "fire_once"
		case "":
		default:
			rep.add(name, "misfireStrategy %s is unknown; misfire left at fire_once", x.MisfireStrategy)
		}
		conf := cmpOr(x.ScheduleConf, x.JobCron)
		switch st := cmpOr(x.ScheduleType, "CRON"); st {
		case "CRON":
			s.Kind, s.Cron = "cron", conf
			j.Schedules = []*manifestSchedule{s}
		case "FIX_RATE", "FIX_DELAY":
			sec, err := strconv.Atoi(strings.TrimSpace(conf))
			if err != nil || sec <= 0 {
				rep.add(name, "scheduleType %s with scheduleConf %q is not a number of seconds; no schedule", st, conf)
				break
			}
			s.Kind, s.Interval = "interval", model.Duration(time.Duration(sec)*time.Second)
			if st == "FIX_DELAY" {
				s.IntervalMode = model.FixedDelay
			}
			j.Schedules = []*manifestSchedule{s}
		case "NONE":
			// Run by hand or by a parent only.
		default:
			rep.add(name, "scheduleType %s is unknown; no schedule", st)
		}
		for _, c := range strings.Split(x.ChildJobID, ",") {
			if c = strings.TrimSpace(c); c == "" {
				continue
			}
			id, _ := strconv.Atoi(c)
			if child, ok := names[id]; ok {
				j.Triggers = append(j.Triggers, manifestTrigger{On: "success", Job: child})
			} else {
				rep.add(name, "childJobId %s is not in the export; no trigger", c)
			}
		}
		if x.AlarmEmail != "" {
			rep.add(name, "alarmEmail %q not mapped: add an alert rule", x.AlarmEmail)
		}
		if x.Author != "" {
			rep.add(name, "author %q not mapped", x.Author)
		}
		m.Jobs = append(m.Jobs, j)
	}
	return m, rep, nil
}

// dkronJob is one job of Dkron's API (GET /v1/jobs returns a list).
type dkronJob struct {
	Name           string            `json:"name"`
	DisplayName    string            `json:"displayname"`
	Schedule       string            `json:"schedule"`
	Timezone       string            `json:"timezone"`
	Owner          string            `json:"owner"`
	OwnerEmail     string            `json:"owner_email"`
	Disabled       bool              `json:"disabled"`
	Tags           map[string]string `json:"tags"`
	Metadata       map[string]string `json:"metadata"`
	Retries        int               `json:"retries"`
	ParentJob      string            `json:"parent_job"`
	DependentJobs  []string          `json:"dependent_jobs"`
	Concurrency    string            `json:"concurrency"`
	Executor       string            `json:"executor"`
	ExecutorConfig map[string]string `json:"executor_config"`
	Processors     map[string]any    `json:"processors"`
	Ephemeral      bool              `json:"ephemeral"`
	ExpiresAt      *time.Time        `json:"expires_at"`
}

var dkronNameRe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// importDkron translates Dkron jobs into a manifest and a report.
func importDkron(data []byte, namespace string) (*manifest, *importReport, error) {
	var jobs []dkronJob
	if err := json.Unmarshal(data, &jobs); err != nil {
		return nil, nil, fmt.Errorf("not a Dkron job list (the JSON array GET /v1/jobs returns): %w", err)
	}
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].Name < jobs[b].Name })
	rep := &importReport{}
	names := map[string]string{}
	for _, d := range jobs {
		n := strings.Trim(dkronNameRe.ReplaceAllString(d.Name, "-"), "-._")
		if n != d.Name {
			rep.add(d.Name, "renamed %s (names are letters, digits, '.', '_' and '-')", n)
		}
		names[d.Name] = n
	}
	m := &manifest{Jobs: []*manifestJob{}}
	byName := map[string]*manifestJob{}
	for _, d := range jobs {
		name := names[d.Name]
		j := &manifestJob{Namespace: namespace, Name: name, Description: d.DisplayName, Disabled: d.Disabled,
			Labels: map[string]string{importedLabel: "dkron"}}
		byName[d.Name] = j
		cfg := &j.Config
		ec := d.ExecutorConfig
		switch d.Executor {
		case "shell":
			cmd := ec["command"]
			if ec["shell"] == "true" {
				cfg.Script = cmd
			} else if f := strings.Fields(cmd); len(f) > 0 {
				cfg.Command, cfg.Args = f[0], f[1:]
				if strings.ContainsAny(cmd, `"'\`) {
					rep.add(name, "command %q has quotes, split on spaces only: check args", cmd)
				}
			}
			if env := ec["env"]; env != "" {
				cfg.Env = map[string]string{}
				for _, kv := range strings.Split(env, ",") {
					if k, v, ok := strings.Cut(kv, "="); ok {
						cfg.Env[strings.TrimSpace(k)] = v
					}
				}
			}
			cfg.WorkDir = ec["cwd"]
			if t := ec["timeout"]; t != "" {
				if dur, err := time.ParseDuration(t); err == nil {
					cfg.Timeout = model.Duration(dur)
				} else {
					rep.add(name, "executor timeout %q is not a duration; no timeout", t)
				}
			}
			for _, k := range sortedMapKeys(ec) {
				switch k {
				case "command", "shell", "env", "cwd", "timeout":
				default:
					rep.add(name, "executor_config.%s not mapped", k)
				}
			}
		case "http":
			cfg.Type = model.TaskHTTP
			h := &model.HTTPTask{Method: ec["method"], URL: ec["url"], Body: ec["body"]}
			if hs := ec["headers"]; hs != "" {
				var list []string
				if err := json.Unmarshal([]byte(hs), &list); err != nil {
					rep.add(name, "headers %q not mapped: not a JSON list of \"Name: value\"", hs)
				}
				for _, l := range list {
					if k, v, ok := strings.Cut(l, ":"); ok {
						if h.Headers == nil {
							h.Headers = map[string]string{}
						}
						h.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
					}
				}
			}
			if c := ec["expectCode"]; c != "" {
				if n, err := strconv.Atoi(c); err == nil {
					h.ExpectStatus = []int{n}
				}
			}
			if t := ec["timeout"]; t != "" {
				if sec, err := strconv.Atoi(t); err == nil {
					cfg.Timeout = model.Duration(time.Duration(sec) * time.Second)
				}
			}
			if ec["expectBody"] != "" {
				rep.add(name, "expectBody not mapped: only the status is checked")
			}
			cfg.HTTP = h
		default:
			cfg.Command = "true"
			j.Disabled = true
			rep.add(name, "executor %q has no equivalent; imported disabled with the command true", d.Executor)
		}
		if d.Retries > 0 {
			cfg.Retry = model.RetryPolicy{MaxAttempts: d.Retries + 1}
		}
		switch d.Concurrency {
		case "", "allow":
		case "forbid":
			cfg.Overlap.Policy = "forbid"
		default:
			rep.add(name, "concurrency %q unknown; overlap left at allow", d.Concurrency)
		}
		for _, k := range sortedMapKeys(d.Tags) {
			v, count, _ := strings.Cut(d.Tags[k], ":")
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			cfg.Labels[k] = v
			if count != "" {
				if count == "1" {
					cfg.Routing.Strategy = model.RouteRandom
				}
				rep.add(name, "tag %s:%s runs on %s matching agents in Dkron; here on one (routing %s)", k, d.Tags[k], count, cmpOr(string(cfg.Routing.Strategy), "least_loaded"))
			}
		}
		s := &manifestSchedule{Name: "dkron", TimeZone: d.Timezone, EndTime: d.ExpiresAt}
		switch sc := strings.TrimSpace(d.Schedule); {
		case sc == "" || sc == "@manually":
		case strings.HasPrefix(sc, "@every "):
			dur, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(sc, "@every ")))
			if err != nil {
				rep.add(name, "schedule %q: bad duration; no schedule", sc)
				break
			}
			s.Kind, s.Interval = "interval", model.Duration(dur)
			j.Schedules = []*manifestSchedule{s}
		case strings.HasPrefix(sc, "@at "):
			at, err := time.Parse(time.RFC3339, strings.TrimSpace(strings.TrimPrefix(sc, "@at ")))
			if err != nil {
				rep.add(name, "schedule %q: bad time; no schedule", sc)
				break
			}
			at = at.UTC()
			s.Kind, s.StartTime = "once", &at
			j.Schedules = []*manifestSchedule{s}
		default:
			if strings.Contains(sc, "~") {
				rep.add(name, "schedule %q uses ~ (hashed) fields, which are not supported; no schedule", sc)
				break
			}
			s.Kind, s.Cron = "cron", sc
			j.Schedules = []*manifestSchedule{s}
		}
		if d.ParentJob != "" && d.Schedule != "" && d.Schedule != "@manually" {
			rep.add(name, "has a parent_job and a schedule; both are kept")
		}
		if d.Owner != "" || d.OwnerEmail != "" {
			rep.add(name, "owner %q <%s> not mapped", d.Owner, d.OwnerEmail)
		}
		if len(d.Metadata) > 0 {
			rep.add(name, "metadata not mapped")
		}
		if len(d.Processors) > 0 {
			rep.add(name, "processors not mapped: output is kept by hetuflow itself")
		}
		if d.Ephemeral {
			rep.add(name, "ephemeral not mapped: the job stays after it runs")
		}
		m.Jobs = append(m.Jobs, j)
	}
	// parent_job and dependent_jobs both say: start the child when the
	// parent succeeds.
	link := func(parent, child string) {
		p, ok := byName[parent]
		if !ok {
			rep.add(names[child], "parent %s is not in the export; no trigger", parent)
			return
		}
		for _, t := range p.Triggers {
			if t.Job == names[child] {
				return
			}
		}
		p.Triggers = append(p.Triggers, manifestTrigger{On: "success", Job: names[child]})
	}
	for _, d := range jobs {
		if d.ParentJob != "" {
			link(d.ParentJob, d.Name)
		}
		for _, c := range d.DependentJobs {
			if _, ok := byName[c]; ok {
				link(d.Name, c)
			} else {
				rep.add(names[d.Name], "dependent job %s is not in the export; no trigger", c)
			}
		}
	}
	return m, rep, nil
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
