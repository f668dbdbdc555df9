package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// goBuild builds ./cmd/hetuflow as `make build` does: static, trimmed paths,
// stripped (-s -w). env is added to the environment; all adds -a (rebuild
// everything).
func goBuild(ctx context.Context, goCmd, out string, env []string, all bool) error {
	args := []string{"build", "-trimpath", "-ldflags", "-s -w"}
	if all {
		args = append(args, "-a")
	}
	args = append(args, "-o", out, "./cmd/hetuflow")
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = moduleRoot(ctx, goCmd)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// moduleRoot returns the directory of the main module's go.mod, or "" (the
// current directory) if go cannot say.
func moduleRoot(ctx context.Context, goCmd string) string {
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return ""
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return ""
	}
	return filepath.Dir(mod)
}

// runStartup measures scenario 9: binary size, build time, and time from
// process start to a healthy server, on a fresh database (which includes
// migrations) and on restart.
func runStartup(ctx context.Context, b *bench) error {
	r := b.newResult(ctx, "startup", "binary and build", "–")
	r.Runs = 1
	st, err := os.Stat(b.bin)
	if err != nil {
		return fmt.Errorf("stat binary: %w", err)
	}
	r.fig("binary size", "MiB", []float64{mib(st.Size())}).target("<=", 30, false)
	if b.buildTime == 0 {
		r.note("binary given with -bin; its size is as built, not necessarily stripped")
	}
	// A warm build: the cache is full from building the binary above.
	var warm []float64
	for range b.runs {
		start := time.Now()
		if err := goBuild(ctx, b.goCmd, filepath.Join(b.workDir, "hetuflow-warm"), nil, false); err != nil {
			r.note("warm build failed: %v", err)
			break
		}
		warm = append(warm, time.Since(start).Seconds())
	}
	r.fig("warm build", "s", warm)
	r.Runs = len(warm)
	if b.set.ColdBuild {
		cold, err := coldBuild(ctx, b)
		if err != nil {
			return err
		}
		r.fig("cold build (-a, empty GOCACHE)", "s", []float64{cold.Seconds()})
		r.note("cold build is one run: it takes minutes; it uses the module cache (no downloads)")
	}
	b.add(r)

	for _, storeKind := range b.storesFor(true) {
		r := b.newResult(ctx, "startup", "to healthy", storeKind)
		r.Runs = b.runs
		var fresh, restart []float64
		for range b.runs {
			f, rs, err := startupOnce(ctx, b, storeKind)
			if err != nil {
				return err
			}
			fresh = append(fresh, ms(f))
			restart = append(restart, ms(rs))
		}
		r.fig("fresh database", "ms", fresh).target("<=", 500, false)
		r.fig("restart", "ms", restart).target("<=", 500, false)
		b.add(r)
	}
	return nil
}

// startupOnce starts a server on a new database, then restarts it, and
// returns both times to healthy.
func startupOnce(ctx context.Context, b *bench, storeKind string) (fresh, restart time.Duration, err error) {
	c, err := b.startCluster(ctx, clusterOpts{Store: storeKind})
	defer c.close()
	if err != nil {
		return 0, 0, err
	}
	fresh = c.startup
	if err := c.restartServer(ctx); err != nil {
		return 0, 0, err
	}
	return fresh, c.startup, nil
}

// coldBuild builds everything with an empty build cache.
func coldBuild(ctx context.Context, b *bench) (time.Duration, error) {
	cache, err := os.MkdirTemp(b.workDir, "gocache-")
	if err != nil {
		return 0, fmt.Errorf("create build cache dir: %w", err)
	}
	defer os.RemoveAll(cache)
	b.log.Info("cold build (takes minutes)")
	start := time.Now()
	if err := goBuild(ctx, b.goCmd, filepath.Join(b.workDir, "hetuflow-cold"), []string{"GOCACHE=" + cache}, true); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
