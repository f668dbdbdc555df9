package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	return path
}

// TestShippedFileShowsDefaults uncomments every key in resources/app.toml and
// checks the result equals Default(), so the file cannot drift from the code.
func TestShippedFileShowsDefaults(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../resources/app.toml")
	if err != nil {
		t.Fatalf("read shipped config: %v", err)
	}
	var lines []string
	keys := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "# "); ok && strings.Contains(rest, " = ") {
			line = rest
			keys++
		}
		lines = append(lines, line)
	}
	cfg, err := Load(writeFile(t, strings.Join(lines, "\n")), nil)
	if err != nil {
		t.Fatalf("Load(uncommented shipped file) = %v", err)
	}
	if cfg.Agent.Labels != nil && len(cfg.Agent.Labels) == 0 {
		cfg.Agent.Labels = nil
	}
	if want := Default(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("shipped file defaults = %+v, want %+v", cfg, want)
	}
	if want := countFields(reflect.TypeOf(Config{})); keys != want {
		t.Errorf("shipped file shows %d keys, config has %d", keys, want)
	}
}

func countFields(t reflect.Type) int {
	n := 0
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("envPrefix") != "" {
			n += countFields(f.Type)
			continue
		}
		n++
	}
	return n
}

func TestLoad(t *testing.T) {
	t.Parallel()

	t.Run("FileOverridesDefaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(writeFile(t, "[scheduler]\nack_timeout = \"3s\"\n[agent]\nlabels = { zone = \"a\" }\n"), nil)
		if err != nil {
			t.Fatalf("Load = %v", err)
		}
		if got := cfg.Scheduler.AckTimeout.D(); got != 3*time.Second {
			t.Errorf("ack_timeout = %v, want 3s", got)
		}
		if got := cfg.Agent.Labels["zone"]; got != "a" {
			t.Errorf("labels.zone = %q, want a", got)
		}
		if got := cfg.Scheduler.DispatchHorizon.D(); got != 5*time.Second {
			t.Errorf("dispatch_horizon = %v, want the default 5s", got)
		}
	})

	t.Run("EnvOverridesFile", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, "[database]\nurl = \"sqlite:a.db\"\n")
		cfg, err := Load(path, []string{"HETUFLOW_DATABASE_URL=postgres://x/y", "HETUFLOW_SCHEDULER_HEARTBEAT_TTL=1m", "HETUFLOW_AGENT_LABELS=zone:b,gpu:yes", "OTHER=1"})
		if err != nil {
			t.Fatalf("Load = %v", err)
		}
		if cfg.Database.URL != "postgres://x/y" {
			t.Errorf("database.url = %q, want the environment's", cfg.Database.URL)
		}
		if cfg.Scheduler.HeartbeatTTL.D() != time.Minute {
			t.Errorf("heartbeat_ttl = %v, want 1m", cfg.Scheduler.HeartbeatTTL)
		}
		if !reflect.DeepEqual(cfg.Agent.Labels, map[string]string{"zone": "b", "gpu": "yes"}) {
			t.Errorf("labels = %v", cfg.Agent.Labels)
		}
	})

	t.Run("UnknownKeyIsNamed", func(t *testing.T) {
		t.Parallel()
		_, err := Load(writeFile(t, "[scheduler]\nack_timout = \"3s\"\n"), nil)
		var fe *model.FieldError
		if !errors.As(err, &fe) || fe.Field != "scheduler.ack_timout" {
			t.Fatalf("Load = %v, want a FieldError naming scheduler.ack_timout", err)
		}
	})

	t.Run("BadValueIsNamed", func(t *testing.T) {
		t.Parallel()
		_, err := Load(writeFile(t, "[scheduler]\nack_timeout = \"soon\"\n"), nil)
		if err == nil || !strings.Contains(err.Error(), "ack_timeout") {
			t.Fatalf("Load = %v, want an error naming ack_timeout", err)
		}
		_, err = Load(writeFile(t, "[database]\nmax_conns = \"many\"\n"), nil)
		if err == nil || !strings.Contains(err.Error(), "max_conns") {
			t.Fatalf("Load = %v, want an error naming max_conns", err)
		}
	})

	t.Run("BadEnvValueIsNamed", func(t *testing.T) {
		t.Parallel()
		_, err := Load(writeFile(t, ""), []string{"HETUFLOW_DATABASE_MAX_CONNS=many"})
		if err == nil || !strings.Contains(err.Error(), "MAX_CONNS") {
			t.Fatalf("Load = %v, want an error naming MAX_CONNS", err)
		}
	})

	t.Run("MissingExplicitFileIsAnError", func(t *testing.T) {
		t.Parallel()
		if _, err := Load(filepath.Join(t.TempDir(), "nope.toml"), nil); err == nil {
			t.Fatalf("Load(missing file) = nil, want an error")
		}
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		edit  func(c *Config)
		field string
	}{
		{"ListenWithoutPort", func(c *Config) { c.Server.Listen = "localhost" }, "server.listen"},
		{"AdvertisedUnspecified", func(c *Config) { c.Server.AdvertisedAddress = "0.0.0.0:9500" }, "server.advertised_address"},
		{"BadDatabaseURL", func(c *Config) { c.Database.URL = "mysql://x" }, "database.url"},
		{"ZeroAckTimeout", func(c *Config) { c.Scheduler.AckTimeout = 0 }, "scheduler.ack_timeout"},
		{"WindowShorterThanHorizon", func(c *Config) { c.Scheduler.GenerateWindow = model.Duration(time.Second) }, "scheduler.generate_window"},
		{"TTLTooShort", func(c *Config) { c.Scheduler.HeartbeatTTL = c.Scheduler.HeartbeatInterval }, "scheduler.heartbeat_ttl"},
		{"BadAgentServer", func(c *Config) { c.Agent.Servers = []string{"http://x"} }, "agent.servers[0]"},
		{"AutomaticAgentLabel", func(c *Config) { c.Agent.Labels = map[string]string{"zone": "a", "hostname": "web-1"} }, "agent.labels.hostname"},
		{"AutomaticVersionLabel", func(c *Config) { c.Agent.Labels = map[string]string{"hetuflow_version": "1"} }, "agent.labels.hetuflow_version"},
		{"BadLogLevel", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"UnknownLogStore", func(c *Config) { c.Server.LogStore = "s3" }, "server.log_store"},
		{"LogFilesWithPostgres", func(c *Config) {
			c.Server.LogStore, c.Database.URL = LogStoreFiles, "postgres://db/hetuflow"
		}, "server.log_store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tc.edit(c)
			var fe *model.FieldError
			if err := c.Validate(); !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("Validate() = %v, want a FieldError naming %s", err, tc.field)
			}
		})
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	files := Default()
	files.Server.LogStore = LogStoreFiles
	if err := files.Validate(); err != nil {
		t.Errorf("log files with SQLite: Validate() = %v", err)
	}
}

func TestLoadOrCreateID(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	id, err := LoadOrCreateID(dir, "server-id")
	if err != nil || id == "" {
		t.Fatalf("LoadOrCreateID = %q, %v", id, err)
	}
	again, err := LoadOrCreateID(dir, "server-id")
	if err != nil || again != id {
		t.Errorf("second LoadOrCreateID = %q, %v; want %q", again, err, id)
	}
}
