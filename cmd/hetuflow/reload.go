package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/server"
)

// serverRuntime is what a running server may change after it started.
type serverRuntime struct {
	// level is the logger's level; a reload sets it.
	level *slog.LevelVar
	// reload reads the configuration again; nil turns reloads off.
	reload server.ReloadFunc
}

// reloadFunc reads the configuration as the server command did at start:
// the file, the environment, then the command's flags.
func reloadFunc(g *globalFlags, f *serverFlags) server.ReloadFunc {
	return func(context.Context) (*config.Config, error) {
		cfg, err := loadConfig(g)
		if err != nil {
			return nil, err
		}
		f.apply(cfg)
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		return cfg, nil
	}
}

// reloadOnSIGHUP reloads the configuration on each SIGHUP until ctx ends or
// the returned stop is called; stop waits for its goroutine.
func reloadOnSIGHUP(ctx context.Context, app *server.App, logger *slog.Logger) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				rep, err := app.Reload(ctx)
				if err != nil {
					logger.ErrorContext(ctx, "reload configuration", "error", err)
					continue
				}
				if len(rep.RestartRequired) > 0 {
					logger.WarnContext(ctx, "changed keys need a restart", "keys", rep.RestartRequired)
				}
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		cancel()
		<-done
	}
}
