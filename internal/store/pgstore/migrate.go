package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/hetuflow/hetuflow/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// withProvider runs fn with a goose provider on the pool. The goose version
// table lands in the configured schema because every pooled connection has
// it as search_path.
func (s *Store) withProvider(ctx context.Context, fn func(p *goose.Provider) error) (err error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("open migrations: %w", err)
	}
	// The advisory lock is per database, so tie it to the schema: servers
	// sharing a schema migrate one at a time, separate schemas in parallel.
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrationLockID(s.cfg.Schema)),
		lock.WithLockTimeout(1, 300),
	)
	if err != nil {
		return fmt.Errorf("create migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close migration db: %w", cerr))
		}
	}()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(locker),
	)
	if err != nil {
		return fmt.Errorf("create migration provider: %w", err)
	}
	return fn(p)
}

// MigrateUp applies every pending embedded migration.
func (s *Store) MigrateUp(ctx context.Context) error {
	return s.withProvider(ctx, func(p *goose.Provider) error {
		results, err := p.Up(ctx)
		if err != nil {
			return fmt.Errorf("migrate up: %w", interpretError(err))
		}
		if len(results) > 0 {
			s.logger.InfoContext(ctx, "migrations applied", "num_migrations", len(results), "schema", s.cfg.Schema)
		}
		return nil
	})
}

// MigrateStatus lists the embedded migrations and whether each is applied.
func (s *Store) MigrateStatus(ctx context.Context) ([]*store.MigrationStatus, error) {
	var out []*store.MigrationStatus
	err := s.withProvider(ctx, func(p *goose.Provider) error {
		statuses, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migration status: %w", interpretError(err))
		}
		for _, st := range statuses {
			out = append(out, &store.MigrationStatus{
				Version: st.Source.Version,
				Name:    path.Base(st.Source.Path),
				Applied: st.State == goose.StateApplied,
			})
		}
		return nil
	})
	return out, err
}

func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hetuflow.migrate:" + schema))
	return int64(h.Sum64())
}
