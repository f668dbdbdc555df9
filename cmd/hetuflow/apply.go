package main

import (
	"context"

	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
)

func newApplyCmd() *cobra.Command {
	var (
		api      apiFlags
		file     string
		dryRun   bool
		prune    bool
		selector string
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Create or update jobs and their schedules from TOML or YAML files",
		Long: "Make the server's jobs and schedules match the files: jobs are identified by namespace and name, schedules\n" +
			"by name within their job (unnamed ones by order). The changes are printed as a diff first; --dry-run prints\n" +
			"only. With --prune --selector label=value, jobs carrying that label that the files no longer name are deleted.\n" +
			"Applying the output of hetuflow export changes nothing.",
		Example: "  hetuflow apply -f jobs.toml --dry-run\n  hetuflow apply -f jobs/ --prune --selector team=ops",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return &model.FieldError{Field: "-f", Reason: "name a file or directory"}
			}
			var label [2]string
			if prune {
				k, v, ok := strings.Cut(selector, "=")
				if !ok || k == "" {
					return &model.FieldError{Field: "--selector", Reason: "--prune needs --selector label=value, so it deletes only what these files own"}
				}
				label = [2]string{k, v}
			}
			m, err := loadManifests(file)
			if err != nil {
				return err
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			p, err := planApply(cmd.Context(), c, m, prune, label)
			if err != nil {
				return err
			}
			p.print(cmd.OutOrStdout())
			if dryRun || p.empty() {
				return nil
			}
			return p.execute(cmd.Context(), c, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "file or directory of .toml/.yaml/.yml files")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the diff and change nothing")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete jobs that carry the --selector label and that the files do not name")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label=value the pruned jobs must carry")
	api.register(cmd)
	return cmd
}

// listAll pages through a query.
func listAll[T any](ctx context.Context, q func(context.Context, *hf.Query) (*hf.QueryResult[T], error), filter map[string]any, order ...string) ([]T, error) {
	var all []T
	for page := 1; ; page++ {
		res, err := q(ctx, &hf.Query{Filter: filter, Page: hf.Page{Page: page, Limit: 1000, OrderBys: order}})
		if err != nil {
			return nil, err
		}
		all = append(all, res.Result...)
		if !res.Page.HasMore || len(res.Result) == 0 {
			return all, nil
		}
	}
}

// jobState is a stored job with its schedules, oldest first.
type jobState struct {
	job       *hf.Job
	schedules []*hf.Schedule
}

// loadState reads every job (of namespace, if set) with its schedules.
func loadState(ctx context.Context, c *hf.Client, namespace string) ([]*jobState, error) {
	var filter map[string]any
	if namespace != "" {
		filter = map[string]any{"namespace": namespace}
	}
	jobs, err := listAll(ctx, c.QueryJobs, filter, "namespace", "name")
	if err != nil {
		return nil, err
	}
	scheds, err := listAll(ctx, c.QuerySchedules, filter, "created_at", "id")
	if err != nil {
		return nil, err
	}
	byJob := map[uuid.UUID][]*hf.Schedule{}
	for _, s := range scheds {
		byJob[s.JobID] = append(byJob[s.JobID], s)
	}
	out := make([]*jobState, len(jobs))
	for i, j := range jobs {
		out[i] = &jobState{job: j, schedules: byJob[j.ID]}
	}
	return out, nil
}

// namesOf maps job ids to names, for triggers: the bare name within a
// namespace is enough, since triggers resolve in the job's namespace.
func namesOf(state []*jobState) map[string]string {
	m := map[string]string{}
	for _, s := range state {
		m[s.job.ID.String()] = s.job.Name
	}
	return m
}

// applyPlan is what apply will do.
type applyPlan struct {
	jobs  []*jobChange
	prune []*hf.Job
	// ids maps namespace/name to the job id, for triggers.
	ids map[string]string
}

// jobChange is the change to one job and its schedules.
type jobChange struct {
	want    *manifestJob
	current *jobState // nil: create
	fields  []string  // job field changes
	scheds  []*schedChange
	// jobChanged says the job itself needs a PUT (or a POST).
	jobChanged bool
}

// schedChange is one schedule created, changed or deleted.
type schedChange struct {
	key     string
	want    *manifestSchedule // nil: delete
	current *hf.Schedule      // nil: create
	fields  []string
}

func (p *applyPlan) empty() bool {
	if len(p.prune) > 0 {
		return false
	}
	for _, j := range p.jobs {
		if j.jobChanged || len(j.scheds) > 0 {
			return false
		}
	}
	return true
}

func planApply(ctx context.Context, c *hf.Client, m *manifest, prune bool, label [2]string) (*applyPlan, error) {
	state, err := loadState(ctx, c, "")
	if err != nil {
		return nil, err
	}
	names := namesOf(state)
	byKey := map[string]*jobState{}
	p := &applyPlan{ids: map[string]string{}}
	for _, s := range state {
		k := s.job.Namespace + "/" + s.job.Name
		byKey[k], p.ids[k] = s, s.job.ID.String()
	}
	named := map[string]bool{}
	for _, want := range m.Jobs {
		want.Namespace = cmpOr(want.Namespace, model.DefaultNamespace)
		if want.Namespace == model.DefaultNamespace {
			want.Namespace = ""
		}
		named[want.key()] = true
		ch := &jobChange{want: want, current: byKey[want.key()]}
		wantJob := *want
		wantJob.Schedules = nil
		if ch.current == nil {
			ch.jobChanged = true
		} else {
			cur := manifestJobOf(ch.current.job, nil, names)
			ch.fields = fieldDiff(cur, &wantJob)
			ch.jobChanged = len(ch.fields) > 0
		}
		var curScheds []*hf.Schedule
		if ch.current != nil {
			curScheds = ch.current.schedules
		}
		curKeys := scheduleKeys(curScheds, func(s *hf.Schedule) string { return s.Name })
		wantKeys := scheduleKeys(want.Schedules, func(s *manifestSchedule) string { return s.Name })
		curByKey := map[string]*hf.Schedule{}
		for i, k := range curKeys {
			curByKey[k] = curScheds[i]
		}
		for i, k := range wantKeys {
			ws := want.Schedules[i]
			cs := curByKey[k]
			delete(curByKey, k)
			if cs == nil {
				ch.scheds = append(ch.scheds, &schedChange{key: k, want: ws})
				continue
			}
			curM := manifestJobOf(&hf.Job{}, []*hf.Schedule{cs}, nil).Schedules[0]
			if f := fieldDiff(curM, ws); len(f) > 0 {
				ch.scheds = append(ch.scheds, &schedChange{key: k, want: ws, current: cs, fields: f})
			}
		}
		for _, k := range curKeys {
			if cs, ok := curByKey[k]; ok {
				ch.scheds = append(ch.scheds, &schedChange{key: k, current: cs})
			}
		}
		p.jobs = append(p.jobs, ch)
	}
	if prune {
		for _, s := range state {
			k := s.job.Namespace + "/" + s.job.Name
			v, ok := s.job.Config.Env[labelEnvPrefix+label[0]]
			if ok && v == label[1] && !named[k] {
				p.prune = append(p.prune, s.job)
			}
		}
	}
	return p, nil
}

// print writes the plan as a diff: + create, ~ change, - delete.
func (p *applyPlan) print(w io.Writer) {
	var create, change, remove int
	for _, j := range p.jobs {
		switch {
		case j.current == nil:
			create++
			fmt.Fprintf(w, "+ job %s\n", j.want.key())
		case j.jobChanged:
			change++
			fmt.Fprintf(w, "~ job %s\n", j.want.key())
			for _, f := range j.fields {
				fmt.Fprintf(w, "    %s\n", f)
			}
		}
		for _, s := range j.scheds {
			switch {
			case s.current == nil:
				create++
				fmt.Fprintf(w, "+ schedule %s %s (%s)\n", j.want.key(), s.key, describeSchedule(s.want))
			case s.want == nil:
				remove++
				fmt.Fprintf(w, "- schedule %s %s\n", j.want.key(), s.key)
			default:
				change++
				fmt.Fprintf(w, "~ schedule %s %s\n", j.want.key(), s.key)
				for _, f := range s.fields {
					fmt.Fprintf(w, "    %s\n", f)
				}
			}
		}
	}
	for _, j := range p.prune {
		remove++
		fmt.Fprintf(w, "- job %s/%s (pruned)\n", j.Namespace, j.Name)
	}
	if create+change+remove == 0 {
		fmt.Fprintln(w, "no changes")
		return
	}
	fmt.Fprintf(w, "%d to create, %d to change, %d to delete\n", create, change, remove)
}

func describeSchedule(s *manifestSchedule) string {
	switch s.Kind {
	case "cron":
		return "cron " + s.Cron
	case "interval":
		return "every " + s.Interval.String()
	}
	return s.Kind
}

// execute carries the plan out: new jobs first (so triggers can name them),
// then changed jobs, schedules, and the pruned jobs last.
func (p *applyPlan) execute(ctx context.Context, c *hf.Client, w io.Writer) error {
	ids := map[*jobChange]uuid.UUID{}
	for _, j := range p.jobs {
		if j.current != nil {
			ids[j] = j.current.job.ID
			continue
		}
		bare := *j.want
		bare.Triggers = nil
		spec, err := jobSpecOf(&bare, p.ids)
		if err != nil {
			return err
		}
		job, err := c.CreateJob(ctx, spec)
		if err != nil {
			return fmt.Errorf("create job %s: %w", j.want.key(), err)
		}
		ids[j], p.ids[j.want.key()] = job.ID, job.ID.String()
	}
	for _, j := range p.jobs {
		if j.jobChanged && (j.current != nil || len(j.want.Triggers) > 0) {
			spec, err := jobSpecOf(j.want, p.ids)
			if err != nil {
				return err
			}
			if _, err := c.ReplaceJob(ctx, ids[j], spec); err != nil {
				return fmt.Errorf("update job %s: %w", j.want.key(), err)
			}
		}
		for _, s := range j.scheds {
			var err error
			switch {
			case s.current == nil:
				_, err = c.CreateSchedule(ctx, scheduleSpecOf(s.want, ids[j]))
			case s.want == nil:
				err = c.DeleteSchedule(ctx, s.current.ID)
			default:
				_, err = c.ReplaceSchedule(ctx, s.current.ID, scheduleSpecOf(s.want, ids[j]))
			}
			if err != nil {
				return fmt.Errorf("schedule %s of job %s: %w", s.key, j.want.key(), err)
			}
		}
	}
	for _, j := range p.prune {
		if err := c.DeleteJob(ctx, j.ID); err != nil && !hf.IsNotFound(err) {
			return fmt.Errorf("prune job %s/%s: %w", j.Namespace, j.Name, err)
		}
	}
	fmt.Fprintln(w, "applied")
	return nil
}

func newExportCmd() *cobra.Command {
	var (
		api       apiFlags
		namespace string
		format    string
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the server's jobs and schedules in the apply format",
		Long: "Write every job (of --namespace, if given) with its schedules as TOML or YAML, in the format hetuflow apply\n" +
			"reads. The output is canonical, so applying it changes nothing and exporting again gives the same bytes.",
		Example: "  hetuflow export -o yaml > jobs.yaml\n  hetuflow export --namespace etl -o toml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "toml" && format != "yaml" && format != "json" {
				return &model.FieldError{Field: "--output", Reason: "must be toml, yaml or json"}
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			state, err := loadState(cmd.Context(), c, namespace)
			if err != nil {
				return err
			}
			b, err := encodeManifest(manifestOf(state), format)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "only this namespace (default all)")
	cmd.Flags().StringVarP(&format, "output", "o", "toml", "toml, yaml or json")
	api.register(cmd)
	return cmd
}

// manifestOf is the manifest of stored jobs, sorted by namespace and name.
func manifestOf(state []*jobState) *manifest {
	names := namesOf(state)
	sort.Slice(state, func(a, b int) bool {
		if state[a].job.Namespace != state[b].job.Namespace {
			return state[a].job.Namespace < state[b].job.Namespace
		}
		return state[a].job.Name < state[b].job.Name
	})
	m := &manifest{Jobs: []*manifestJob{}}
	for _, s := range state {
		m.Jobs = append(m.Jobs, manifestJobOf(s.job, s.schedules, names))
	}
	return m
}
