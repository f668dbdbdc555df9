package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/google/uuid"
	"github.com/pelletier/go-toml/v2"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
)

// manifest is the declarative file format of apply, export, job edit and
// the importers: jobs with their schedules, by namespace and name. TOML
// ([[jobs]], [jobs.config], [[jobs.schedules]]) and YAML (jobs: [...]) hold
// the same document, with the API's field names.
type manifest struct {
	Jobs []*manifestJob `json:"jobs"`
}

// manifestJob is one job, identified by namespace and name.
type manifestJob struct {
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Disabled keeps the job from running on its schedules; jobs are
	// enabled by default.
	Disabled bool `json:"disabled,omitempty"`
	// Labels are the job's own labels, which --prune --selector matches.
	// They are stored in the job's environment as HETUFLOW_LABEL_<KEY>
	// (docs/cli.md says why).
	Labels map[string]string `json:"labels,omitempty"`
	Config model.JobConfig   `json:"config"`
	// Triggers name other jobs of the namespace to start when a run ends;
	// config.triggers, which holds job ids, is not written in files.
	Triggers  []manifestTrigger   `json:"triggers,omitempty"`
	Schedules []*manifestSchedule `json:"schedules,omitempty"`
}

// manifestTrigger starts a job, by name, when a run ends.
type manifestTrigger struct {
	On  string `json:"on"`
	Job string `json:"job"`
}

// manifestSchedule is one schedule of a job. Schedules are matched by name
// within their job; unnamed ones by their order.
type manifestSchedule struct {
	Name         string              `json:"name,omitempty"`
	Kind         string              `json:"kind"`
	Cron         string              `json:"cron,omitempty"`
	TimeZone     string              `json:"time_zone,omitempty"`
	Interval     model.Duration      `json:"interval,omitempty"`
	IntervalMode model.IntervalMode  `json:"interval_mode,omitempty"`
	StartTime    *time.Time          `json:"start_time,omitempty"`
	EndTime      *time.Time          `json:"end_time,omitempty"`
	MaxCount     int64               `json:"max_count,omitempty"`
	Misfire      model.MisfirePolicy `json:"misfire,omitzero"`
	EventFilter  map[string]any      `json:"event_filter,omitempty"`
	Disabled     bool                `json:"disabled,omitempty"`
}

// labelKeyRe is what a job label key may hold: it becomes part of an
// environment variable name.
var labelKeyRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// labelEnvPrefix marks the environment entries that hold a job's labels.
const labelEnvPrefix = "HETUFLOW_LABEL_"

var scheduleKinds = map[string]model.ScheduleKind{
	"cron": model.ScheduleCron, "interval": model.ScheduleInterval, "event": model.ScheduleEvent,
	"daemon": model.ScheduleDaemon, "once": model.ScheduleOnce,
}

func kindName(k model.ScheduleKind) string {
	for n, v := range scheduleKinds {
		if v == k {
			return n
		}
	}
	return fmt.Sprint(int(k))
}

// key is a job's identity: namespace/name.
func (j *manifestJob) key() string {
	return cmpOr(j.Namespace, model.DefaultNamespace) + "/" + j.Name
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// formatOf names a file's format from its extension.
func formatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		return "toml", nil
	case ".yaml", ".yml":
		return "yaml", nil
	case ".json":
		return "json", nil
	}
	return "", &model.FieldError{Field: path, Reason: "use a .toml, .yaml, .yml or .json file"}
}

// decodeManifest reads a document in format; unknown fields are errors
// naming the file and field.
func decodeManifest(name, format string, data []byte) (*manifest, error) {
	var js []byte
	switch format {
	case "toml":
		var m map[string]any
		if err := toml.Unmarshal(data, &m); err != nil {
			return nil, &model.FieldError{Field: name, Reason: err.Error()}
		}
		var err error
		if js, err = json.Marshal(m); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	case "yaml":
		var err error
		if js, err = yaml.YAMLToJSON(data); err != nil {
			return nil, &model.FieldError{Field: name, Reason: err.Error()}
		}
	default:
		js = data
	}
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, &model.FieldError{Field: name, Reason: err.Error()}
	}
	for i, j := range m.Jobs {
		if j == nil || j.Name == "" {
			return nil, &model.FieldError{Field: fmt.Sprintf("%s: jobs[%d].name", name, i), Reason: "is required"}
		}
		if len(j.Config.Triggers) > 0 {
			return nil, &model.FieldError{Field: fmt.Sprintf("%s: jobs[%d].config.triggers", name, i), Reason: "name jobs in triggers (on, job) instead"}
		}
		for k := range j.Config.Env {
			if strings.HasPrefix(k, labelEnvPrefix) {
				return nil, &model.FieldError{Field: fmt.Sprintf("%s: jobs[%d].config.env.%s", name, i, k), Reason: "is reserved for labels: write it under labels"}
			}
		}
		for k := range j.Labels {
			if !labelKeyRe.MatchString(k) {
				return nil, &model.FieldError{Field: fmt.Sprintf("%s: jobs[%d].labels.%s", name, i, k), Reason: "label keys are letters, digits and '_' (they are stored as environment names)"}
			}
		}
		seen := map[string]bool{}
		for k, s := range j.Schedules {
			if _, ok := scheduleKinds[s.Kind]; !ok {
				return nil, &model.FieldError{Field: fmt.Sprintf("%s: jobs[%d].schedules[%d].kind", name, i, k), Reason: "must be cron, interval, event, daemon or once"}
			}
			if s.Name != "" && seen[s.Name] {
				return nil, &model.FieldError{Field: fmt.Sprintf("%s: jobs[%d].schedules[%d].name", name, i, k), Reason: "is used twice in the job"}
			}
			seen[s.Name] = true
		}
	}
	return &m, nil
}

// loadManifests reads a file, or every .toml, .yaml and .yml file of a
// directory in name order. A job named twice is an error.
func loadManifests(path string) (*manifest, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &model.FieldError{Field: "-f", Reason: err.Error()}
	}
	files := []string{path}
	if st.IsDir() {
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		for _, e := range entries {
			if _, ferr := formatOf(e.Name()); ferr == nil && !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	all := &manifest{}
	where := map[string]string{}
	for _, f := range files {
		format, err := formatOf(f)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		m, err := decodeManifest(f, format, data)
		if err != nil {
			return nil, err
		}
		for _, j := range m.Jobs {
			if prev, ok := where[j.key()]; ok {
				return nil, &model.FieldError{Field: f, Reason: fmt.Sprintf("job %s is also in %s", j.key(), prev)}
			}
			where[j.key()] = f
			all.Jobs = append(all.Jobs, j)
		}
	}
	return all, nil
}

// encodeManifest writes m in format (toml or yaml). The output is
// canonical: the same jobs always give the same bytes.
func encodeManifest(m *manifest, format string) ([]byte, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	switch format {
	case "yaml":
		return yaml.JSONToYAML(js)
	case "json":
		var b bytes.Buffer
		if err := json.Indent(&b, js, "", "  "); err != nil {
			return nil, err
		}
		b.WriteByte('\n')
		return b.Bytes(), nil
	case "toml":
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		enc := toml.NewEncoder(&b)
		enc.SetIndentTables(true)
		if err := enc.Encode(numbersOf(v)); err != nil {
			return nil, fmt.Errorf("encode toml: %w", err)
		}
		return b.Bytes(), nil
	}
	return nil, &model.FieldError{Field: "--output", Reason: "must be toml or yaml"}
}

// numbersOf turns json.Numbers into int64 or float64, so TOML writes 3,
// not "3" or 3.0.
func numbersOf(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbersOf(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbersOf(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// jobSpecOf is the API body for a manifest job; ids resolves trigger job
// names (namespace/name) to ids.
func jobSpecOf(j *manifestJob, ids map[string]string) (*hf.JobSpec, error) {
	cfg := j.Config
	if len(j.Labels) > 0 {
		env := make(map[string]string, len(cfg.Env)+len(j.Labels))
		for k, v := range cfg.Env {
			env[k] = v
		}
		for k, v := range j.Labels {
			env[labelEnvPrefix+k] = v
		}
		cfg.Env = env
	}
	for _, t := range j.Triggers {
		key := cmpOr(j.Namespace, model.DefaultNamespace) + "/" + t.Job
		id, ok := ids[key]
		if _, err := uuid.Parse(t.Job); !ok && err == nil {
			// A job of another namespace, which export writes by id.
			id, ok = t.Job, true
		}
		if !ok {
			return nil, &model.FieldError{Field: "job " + j.key() + ": triggers", Reason: "no job " + key}
		}
		var tr model.JobTrigger
		if err := json.Unmarshal(fmt.Appendf(nil, `{"on":%q,"job_id":%q}`, t.On, id), &tr); err != nil {
			return nil, fmt.Errorf("trigger: %w", err)
		}
		cfg.Triggers = append(cfg.Triggers, tr)
	}
	status := model.JobEnabled
	if j.Disabled {
		status = model.JobDisabled
	}
	return &hf.JobSpec{Namespace: cmpOr(j.Namespace, model.DefaultNamespace), Name: j.Name, Description: j.Description, Status: status, Config: cfg}, nil
}

// manifestJobOf is the manifest form of a stored job and its schedules;
// names maps job ids to names for triggers.
func manifestJobOf(j *hf.Job, schedules []*hf.Schedule, names map[string]string) *manifestJob {
	mj := &manifestJob{Name: j.Name, Description: j.Description, Disabled: j.Status != model.JobEnabled, Config: j.Config}
	if j.Namespace != model.DefaultNamespace {
		mj.Namespace = j.Namespace
	}
	if len(j.Config.Env) > 0 {
		env := map[string]string{}
		for k, v := range j.Config.Env {
			if l, ok := strings.CutPrefix(k, labelEnvPrefix); ok {
				if mj.Labels == nil {
					mj.Labels = map[string]string{}
				}
				mj.Labels[l] = v
				continue
			}
			env[k] = v
		}
		mj.Config.Env = nil
		if len(env) > 0 {
			mj.Config.Env = env
		}
	}
	mj.Config.Triggers = nil
	for _, t := range j.Config.Triggers {
		name := names[t.JobID.String()]
		if name == "" {
			name = t.JobID.String()
		}
		mj.Triggers = append(mj.Triggers, manifestTrigger{On: t.On, Job: name})
	}
	for _, s := range schedules {
		ms := &manifestSchedule{Name: s.Name, Kind: kindName(s.Kind), Cron: s.Cron, TimeZone: s.TimeZone, Interval: s.Interval,
			StartTime: utc(s.StartTime), EndTime: utc(s.EndTime), MaxCount: s.MaxCount, IntervalMode: s.IntervalMode, Misfire: s.Misfire,
			Disabled: s.Status == model.ScheduleDisabled}
		if len(s.EventFilter) > 0 {
			_ = json.Unmarshal(s.EventFilter, &ms.EventFilter)
		}
		mj.Schedules = append(mj.Schedules, ms)
	}
	return mj
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// scheduleSpecOf is the API body for a manifest schedule of job jobID.
func scheduleSpecOf(s *manifestSchedule, jobID uuid.UUID) *hf.ScheduleSpec {
	status := model.ScheduleEnabled
	if s.Disabled {
		status = model.ScheduleDisabled
	}
	return &hf.ScheduleSpec{JobID: jobID, Name: s.Name, Kind: scheduleKinds[s.Kind], Cron: s.Cron, TimeZone: s.TimeZone, Interval: s.Interval,
		StartTime: s.StartTime, EndTime: s.EndTime, MaxCount: s.MaxCount, IntervalMode: s.IntervalMode, Misfire: s.Misfire,
		EventFilter: s.EventFilter, Status: status}
}

// scheduleKeys names each schedule of a job for matching: its name, or
// #N for the Nth unnamed one.
func scheduleKeys[T any](items []T, name func(T) string) []string {
	keys := make([]string, len(items))
	n := 0
	for i, it := range items {
		if keys[i] = name(it); keys[i] == "" {
			n++
			keys[i] = fmt.Sprintf("#%d", n)
		}
	}
	return keys
}

// flatten turns a JSON value into path → value lines, for diffs.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	case []any:
		if len(x) == 0 {
			return
		}
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		b, _ := json.Marshal(x)
		out[prefix] = string(b)
	}
}

// fieldDiff lists the fields that differ between two values, as
// "path: old → new" lines, in path order.
func fieldDiff(old, new any) []string {
	o, n := map[string]string{}, map[string]string{}
	for _, p := range []struct {
		v   any
		out map[string]string
	}{{old, o}, {new, n}} {
		b, _ := json.Marshal(p.v)
		var m any
		_ = json.Unmarshal(b, &m)
		flatten("", m, p.out)
	}
	var lines []string
	for k, v := range n {
		if o[k] != v {
			lines = append(lines, fmt.Sprintf("%s: %s → %s", k, cmpOr(o[k], "(none)"), v))
		}
	}
	for k, v := range o {
		if _, ok := n[k]; !ok {
			lines = append(lines, fmt.Sprintf("%s: %s → (none)", k, v))
		}
	}
	sort.Strings(lines)
	return lines
}
