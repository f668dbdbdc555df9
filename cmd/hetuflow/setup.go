package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/logging"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore"
	"github.com/hetuflow/hetuflow/internal/store/pgstore"
)

// loadConfig reads the config file and environment.
func loadConfig(g *globalFlags) (*config.Config, error) {
	path := g.configPath
	if path == "" {
		path = config.PathFromEnv(os.Getenv)
	}
	return config.Load(path, os.Environ())
}

// newLogger builds the process logger from the log section.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	logger, _ := newLoggerLevel(cfg, w)
	return logger
}

// newLoggerLevel builds the process logger and returns its level, which a
// configuration reload may change.
func newLoggerLevel(cfg config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := logging.LevelVar(cfg.Level)
	return logging.New(cfg.Format, w, level), level
}

// openStore opens the database the config names: PostgreSQL for a
// postgres:// URL, otherwise SQLite (by default in the data directory).
func openStore(ctx context.Context, cfg *config.Config, migrate bool, logger *slog.Logger) (store.Store, error) {
	return openStoreObserved(ctx, cfg, migrate, logger, nil)
}

// openStoreObserved is openStore with observe timing each PostgreSQL
// statement (for the metrics); nil observes nothing.
func openStoreObserved(ctx context.Context, cfg *config.Config, migrate bool, logger *slog.Logger, observe func(string, time.Duration)) (store.Store, error) {
	u := cfg.Database.URL
	if cfg.Database.Postgres() {
		st, err := pgstore.Open(ctx, pgstore.Config{URL: u, Migrate: migrate, MaxConns: cfg.Database.MaxConns, ObserveQuery: observe}, logger.With("svc", "pgstore"))
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return st, nil
	}
	path := strings.TrimPrefix(u, "sqlite:")
	if path == "" {
		if err := os.MkdirAll(cfg.Server.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		path = filepath.Join(cfg.Server.DataDir, "hetuflow.db")
	}
	st, err := litestore.Open(ctx, litestore.Config{Path: path, Migrate: migrate}, logger.With("svc", "litestore"))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return st, nil
}

// migrateFlag reports whether migrations run at start: the config, turned
// off by --no-migrate.
func migrateFlag(cfg *config.Config, noMigrate bool) bool {
	return !noMigrate && (cfg.Database.Migrate == nil || *cfg.Database.Migrate)
}
