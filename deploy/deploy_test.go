// Package deploy_test checks the deployment files: the Kubernetes manifests
// parse and probe the right routes, the systemd units are hardened, the
// Dockerfile is multi-stage on a non-root minimal image, the Grafana
// dashboard queries metrics the server exposes, and make release exists.
package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/server/metrics"
)

// manifest is the part of a Kubernetes object the checks read.
type manifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Name           string `yaml:"name"`
					Image          string `yaml:"image"`
					ReadinessProbe *probe `yaml:"readinessProbe"`
					LivenessProbe  *probe `yaml:"livenessProbe"`
				} `yaml:"containers"`
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
	} `yaml:"httpGet"`
}

func readManifests(t *testing.T) map[string]*manifest {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in k8s/: %v", err)
	}
	out := map[string]*manifest{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(raw, []byte("\n---\n")) {
			var m manifest
			if err := yaml.UnmarshalWithOptions(doc, &m, yaml.Strict()); err != nil && !strings.Contains(err.Error(), "unknown field") {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if err := yaml.Unmarshal(doc, &m); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
				t.Errorf("%s document %d lacks apiVersion, kind or metadata.name", f, i)
			}
			out[m.Kind+"/"+m.Metadata.Name] = &m
		}
	}
	return out
}

func TestKubernetes(t *testing.T) {
	t.Parallel()
	ms := readManifests(t)
	for _, want := range []string{"Deployment/hetuflow-server", "Service/hetuflow-server", "DaemonSet/hetuflow-agent", "ConfigMap/hetuflow-config", "Secret/hetuflow-secrets"} {
		if ms[want] == nil {
			t.Errorf("manifests lack %s", want)
		}
	}
	if d := ms["Deployment/hetuflow-server"]; d != nil {
		c := d.Spec.Template.Spec.Containers
		if len(c) != 1 || c[0].ReadinessProbe == nil || c[0].ReadinessProbe.HTTPGet.Path != "/api/v1/ready" ||
			c[0].LivenessProbe == nil || c[0].LivenessProbe.HTTPGet.Path != "/api/v1/health" {
			t.Errorf("server containers = %+v, want readiness on /api/v1/ready and liveness on /api/v1/health", c)
		}
		if !d.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
			t.Error("server pods must run as non-root")
		}
	}
	if cm := ms["ConfigMap/hetuflow-config"]; cm != nil {
		// The shipped configuration must load: unknown keys are errors.
		path := filepath.Join(t.TempDir(), "app.toml")
		if err := os.WriteFile(path, []byte(cm.Data["app.toml"]), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path, nil)
		if err != nil {
			t.Fatalf("ConfigMap app.toml: %v", err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("ConfigMap app.toml: %v", err)
		}
	}
}

// unit reads a systemd unit as section → key → values.
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is not key=value in a section", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

func TestSystemd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		cmd  string
		want map[string]string
	}{
		{"systemd/hetuflow-server.service", "hetuflow server", map[string]string{
			"User": "hetuflow", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/hetuflow", "ExecReload": "/bin/kill -HUP $MAINPID"}},
		{"systemd/hetuflow-agent.service", "hetuflow agent", map[string]string{
			"User": "hetuflow", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/hetuflow-agent", "Delegate": "yes"}},
	} {
		u := unit(t, tc.file)
		for _, s := range []string{"Unit", "Service", "Install"} {
			if u[s] == nil {
				t.Errorf("%s lacks [%s]", tc.file, s)
			}
		}
		svc := u["Service"]
		if got := strings.Join(svc["ExecStart"], ""); !strings.HasSuffix(got, tc.cmd) {
			t.Errorf("%s ExecStart = %q, want it to run %q", tc.file, got, tc.cmd)
		}
		for k, v := range tc.want {
			if got := svc[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s %s = %v, want %q", tc.file, k, got, v)
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var user string
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			froms = append(froms, f[1])
		}
		if len(f) >= 2 && strings.EqualFold(f[0], "USER") {
			user = f[1]
		}
	}
	if len(froms) < 2 || !strings.Contains(froms[len(froms)-1], "distroless/static") {
		t.Errorf("FROM lines = %v, want a multi-stage build ending on distroless static", froms)
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
		t.Errorf("USER = %q, want a non-root user", user)
	}
}

func TestGrafanaQueriesExposedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("grafana/hetuflow.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	known := map[string]bool{"go_goroutines": true, "process_cpu_seconds_total": true}
	for _, n := range metrics.Names {
		known[n] = true
	}
	name := regexp.MustCompile(`\b(hetuflow_[a-z_]+|go_[a-z_]+|process_[a-z_]+)`)
	suffix := regexp.MustCompile(`_(bucket|sum|count)$`)
	seen := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				base := m
				if !known[m] {
					base = suffix.ReplaceAllString(m, "")
				}
				seen[base] = true
				if !known[base] {
					t.Errorf("panel %q queries %s, which the server does not expose", p.Title, m)
				}
			}
		}
	}
	// Every server metric has a panel.
	for n := range known {
		if strings.HasPrefix(n, "hetuflow_") && n != "hetuflow_build_info" && !seen[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
}

func TestMakeRelease(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	mk := string(raw)
	if !regexp.MustCompile(`(?m)^release:`).MatchString(mk) {
		t.Fatal("Makefile has no release target")
	}
	for _, want := range []string{"linux/amd64", "linux/arm64", "CGO_ENABLED=0", "-X main.version=", "SHA256SUMS"} {
		if !strings.Contains(mk, want) {
			t.Errorf("Makefile release does not mention %q", want)
		}
	}
}
