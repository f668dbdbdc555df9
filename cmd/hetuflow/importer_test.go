package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImporters(t *testing.T) {
	for _, tc := range []struct {
		system    string
		file      string
		translate func([]byte, string) (*manifest, *importReport, error)
	}{
		{"xxl-job", "xxl-job.json", importXXLJob},
		{"dkron", "dkron.json", importDkron},
	} {
		t.Run(tc.system, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "import", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			m, rep, err := tc.translate(data, "")
			if err != nil {
				t.Fatal(err)
			}
			out, err := encodeManifest(m, "toml")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "../import/"+tc.system+".toml.golden", string(out))
			golden(t, "../import/"+tc.system+".report.golden", strings.Join(rep.lines, "\n")+"\n")
			// What the importer writes is a valid apply file: it decodes,
			// and every job the report does not flag validates.
			m2, err := decodeManifest(tc.file, "toml", out)
			if err != nil {
				t.Fatalf("import output does not decode: %v", err)
			}
			if len(m2.Jobs) != len(m.Jobs) {
				t.Fatalf("decoded %d jobs, want %d", len(m2.Jobs), len(m.Jobs))
			}
			for _, j := range m2.Jobs {
				if err := j.Config.Validate(); err != nil {
					t.Errorf("job %s: %v", j.Name, err)
				}
			}
		})
	}
}

func TestImportXXLJobMapping(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "import", "xxl-job.json"))
	m, _, err := importXXLJob(data, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*manifestJob{}
	for _, j := range m.Jobs {
		byName[j.Name] = j
	}
	r := byName["xxl-1-nightly-report"]
	if r == nil {
		t.Fatalf("jobs: %v", byName)
	}
	c := r.Config
	if r.Namespace != "legacy" || c.Interpreter != "bash" || c.Routing.Strategy != "round_robin" || c.Overlap.Policy != "forbid" ||
		c.Timeout.String() != "10m0s" || c.Retry.MaxAttempts != 3 || r.Schedules[0].Cron != "0 30 2 * * ?" ||
		r.Schedules[0].Misfire.Policy != "skip" || len(r.Triggers) != 1 || r.Triggers[0].Job != "xxl-2-send-report" {
		t.Errorf("nightly report mapped to %+v, schedules %+v", r, r.Schedules[0])
	}
	if o := byName["xxl-3"]; o == nil || !o.Disabled || o.Config.Routing.Strategy != "broadcast" || o.Config.Overlap.Policy != "replace" || o.Schedules[0].Interval.String() != "30s" {
		t.Errorf("BEAN job xxl-3 mapped to %+v", o)
	}
}
