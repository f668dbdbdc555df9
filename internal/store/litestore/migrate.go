package litestore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"

	"github.com/pressly/goose/v3"

	"github.com/hetuflow/hetuflow/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// provider returns a goose provider on the writer, which serializes
// migrations with every other write.
func (s *Store) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.writer, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("create migration provider: %w", err)
	}
	return p, nil
}

// MigrateUp applies every pending embedded migration.
func (s *Store) MigrateUp(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", s.interpretError(err))
	}
	if len(results) > 0 {
		s.logger.InfoContext(ctx, "migrations applied", "num_migrations", len(results), "path", s.cfg.Path)
	}
	return nil
}

// MigrateStatus lists the embedded migrations and whether each is applied.
func (s *Store) MigrateStatus(ctx context.Context) ([]*store.MigrationStatus, error) {
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", s.interpretError(err))
	}
	out := make([]*store.MigrationStatus, 0, len(statuses))
	for _, st := range statuses {
		out = append(out, &store.MigrationStatus{
			Version: st.Source.Version,
			Name:    path.Base(st.Source.Path),
			Applied: st.State == goose.StateApplied,
		})
	}
	return out, nil
}
