package ui

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/hetuflow/hetuflow/internal/model"
)

var verbRe = regexp.MustCompile(`%[dsvq]`)

// TestCatalogComplete fails when a key lacks a language or the two
// languages disagree on their arguments.
func TestCatalogComplete(t *testing.T) {
	t.Parallel()
	for key, m := range catalog {
		if strings.TrimSpace(m.en) == "" || strings.TrimSpace(m.zh) == "" {
			t.Errorf("catalog key %q is missing a language: en=%q zh=%q", key, m.en, m.zh)
		}
		if a, b := verbRe.FindAllString(m.en, -1), verbRe.FindAllString(m.zh, -1); strings.Join(a, "") != strings.Join(b, "") {
			t.Errorf("catalog key %q: English takes %v, Chinese %v", key, a, b)
		}
	}
}

var (
	actionRe = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	tagRe    = regexp.MustCompile(`(?s)<[^>]*>`)
	attrRe   = regexp.MustCompile(`(?:title|aria-label|alt|data-confirm|data-msg-[a-z]+)="([^"]*)"`)
	keyRe    = regexp.MustCompile(`T "([a-z0-9_.]+)"`)
	prefixRe = regexp.MustCompile(`T \(print "([a-z]+\.)"`)
)

// TestTemplatesUseCatalogue fails when a template holds words that are not
// from the catalogue: text between tags, or a title, label or question
// attribute, that has a letter once the template actions are taken out. It
// also fails on a key the catalogue lacks.
func TestTemplatesUseCatalogue(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(names) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	hasLetter := func(s string) bool {
		for _, r := range s {
			if unicode.IsLetter(r) {
				return true
			}
		}
		return false
	}
	for _, n := range names {
		raw, err := fs.ReadFile(templateFS, n)
		if err != nil {
			t.Fatal(err)
		}
		src := string(raw)
		for _, m := range keyRe.FindAllStringSubmatch(src, -1) {
			if _, ok := catalog[m[1]]; !ok {
				t.Errorf("%s: key %q is not in the catalogue", n, m[1])
			}
		}
		bare := actionRe.ReplaceAllString(src, "\x00")
		for _, m := range attrRe.FindAllStringSubmatch(bare, -1) {
			if hasLetter(m[1]) {
				t.Errorf("%s: attribute text %q is not from the catalogue", n, m[0])
			}
		}
		// Script and style bodies are not text; the page has neither inline.
		text := tagRe.ReplaceAllString(bare, "\x00")
		for _, chunk := range strings.Split(text, "\x00") {
			if hasLetter(chunk) {
				t.Errorf("%s: text %q is not from the catalogue", n, strings.TrimSpace(chunk))
			}
		}
	}
}

// TestStatusKeys checks that every status a template names through a
// prefix ("task." .Status) has its key.
func TestStatusKeys(t *testing.T) {
	t.Parallel()
	want := map[string][]string{}
	for _, s := range []model.TaskStatus{model.TaskPending, model.TaskDoing, model.TaskWaitingRetry, model.TaskFailed, model.TaskSkipped, model.TaskCancelled, model.TaskSucceeded} {
		want["task."] = append(want["task."], s.String())
	}
	for _, s := range []model.InstanceStatus{model.InstancePending, model.InstanceDispatched, model.InstanceAcked, model.InstanceRunning, model.InstanceTimeout, model.InstanceFailed, model.InstanceLost, model.InstanceCancelled, model.InstanceSucceeded} {
		want["instance."] = append(want["instance."], s.String())
	}
	for _, s := range []model.JobStatus{model.JobCreated, model.JobDisabled, model.JobEnabled} {
		want["job."] = append(want["job."], s.String())
	}
	for _, s := range []model.ScheduleStatus{model.ScheduleCreated, model.ScheduleExpired, model.ScheduleDisabled, model.ScheduleEnabled} {
		want["sched."] = append(want["sched."], s.String())
	}
	for _, s := range []model.AgentStatus{model.AgentOnline, model.AgentOffline, model.AgentDraining} {
		want["agent."] = append(want["agent."], s.String())
	}
	for _, s := range []model.ServerStatus{model.ServerActive, model.ServerInactive} {
		want["server."] = append(want["server."], s.String())
	}
	want["kind."] = []string{"1", "2", "3", "4", "5", "6"}
	want["role."] = []string{string(model.RoleViewer), string(model.RoleOperator), string(model.RoleEditor), string(model.RoleAdmin)}
	want["event."] = alertEvents
	want["channel."] = []string{string(model.AlertWebhook), string(model.AlertEmail)}
	want["type."] = taskTypes
	want["step."] = []string{"planned", "dispatched", "acked", "started", "finished"}
	used := map[string]bool{}
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		raw, _ := fs.ReadFile(templateFS, n)
		for _, m := range prefixRe.FindAllStringSubmatch(string(raw), -1) {
			used[m[1]] = true
		}
	}
	for prefix := range used {
		if _, ok := want[prefix]; !ok {
			t.Errorf("templates use prefix %q that this test does not know; add its values", prefix)
		}
	}
	for prefix, vals := range want {
		for _, v := range vals {
			if _, ok := catalog[prefix+v]; !ok {
				t.Errorf("catalogue lacks %q", prefix+v)
			}
		}
	}
	// The flash keys built from an action name.
	for _, a := range []string{"retry", "cancel"} {
		if _, ok := catalog["flash.bulk_"+a]; !ok {
			t.Errorf("catalogue lacks flash.bulk_%s", a)
		}
	}
}
