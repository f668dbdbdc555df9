package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the SQLite driver the product uses

	"github.com/hetuflow/hetuflow/internal/model"
)

// createSchema creates a PostgreSQL schema for one cluster and returns the
// database URL that puts the server in it.
func (b *bench) createSchema(ctx context.Context, schema string) (string, error) {
	conn, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		return "", fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	u, err := url.Parse(b.pgURL)
	if err != nil {
		return "", fmt.Errorf("parse -pg url: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// dropSchema drops a cluster's schema and everything in it.
func (b *bench) dropSchema(ctx context.Context, schema string) error {
	conn, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// seedDB writes rows straight into a cluster's database, matching the
// schema in internal/store/*/migrations, to fill it faster than the API
// could. Values are given in Go types (string ids, time.Time, JSON strings)
// and converted to each dialect's column types.
type seedDB struct {
	store string
	lite  *sql.DB
	pg    *pgx.Conn
}

// openSeedDB opens the cluster's database. The server must not be running
// when it is SQLite.
func openSeedDB(ctx context.Context, kind, sqlitePath, pgURL string) (*seedDB, error) {
	db := &seedDB{store: kind}
	switch kind {
	case storeSQLite:
		lite, err := sql.Open("sqlite", "file:"+sqlitePath+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		lite.SetMaxOpenConns(1)
		db.lite = lite
	case storePostgres:
		conn, err := pgx.Connect(ctx, pgURL)
		if err != nil {
			return nil, fmt.Errorf("connect to postgres: %w", err)
		}
		db.pg = conn
	}
	return db, nil
}

func (db *seedDB) close() {
	if db.lite != nil {
		db.lite.Close()
	}
	if db.pg != nil {
		db.pg.Close(context.Background())
	}
}

// value converts a Go value to what the dialect stores: SQLite keeps times
// as unix microseconds and UUIDs as text; PostgreSQL takes both natively.
func (db *seedDB) value(v any) any {
	switch x := v.(type) {
	case time.Time:
		if db.store == storeSQLite {
			return x.UTC().UnixMicro()
		}
		return x.UTC()
	case *time.Time:
		if x == nil {
			return nil
		}
		return db.value(*x)
	case uuid.UUID:
		if db.store == storeSQLite {
			return x.String()
		}
		return x
	}
	return v
}

// columns returns table's columns, and which of them are NOT NULL without
// a default (a row must give them).
func (db *seedDB) columns(ctx context.Context, table string) (all, required map[string]bool, err error) {
	all, required = map[string]bool{}, map[string]bool{}
	add := func(name string, notNull, hasDefault bool) {
		all[name] = true
		if notNull && !hasDefault {
			required[name] = true
		}
	}
	if db.pg != nil {
		rows, err := db.pg.Query(ctx, `SELECT column_name, is_nullable = 'NO', column_default IS NOT NULL
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, table)
		if err != nil {
			return nil, nil, fmt.Errorf("list columns of %s: %w", table, err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var notNull, hasDefault bool
			if err := rows.Scan(&name, &notNull, &hasDefault); err != nil {
				return nil, nil, fmt.Errorf("list columns of %s: %w", table, err)
			}
			add(name, notNull, hasDefault)
		}
		return all, required, rows.Err()
	}
	rows, err := db.lite.QueryContext(ctx, `SELECT name, "notnull", dflt_value IS NOT NULL FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, nil, fmt.Errorf("list columns of %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var notNull, hasDefault bool
		if err := rows.Scan(&name, &notNull, &hasDefault); err != nil {
			return nil, nil, fmt.Errorf("list columns of %s: %w", table, err)
		}
		add(name, notNull, hasDefault)
	}
	return all, required, rows.Err()
}

// insert writes rows into table: COPY on PostgreSQL, one prepared statement
// in one transaction on SQLite. It fails, naming the column, when the
// schema has a required column the rows do not give: a migration added it
// and this file needs to learn it.
func (db *seedDB) insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	_, required, err := db.columns(ctx, table)
	if err != nil {
		return err
	}
	for _, c := range cols {
		delete(required, c)
	}
	if len(required) > 0 {
		missing := slices.Sorted(maps.Keys(required))
		return fmt.Errorf("seed %s: columns %s are required and bench/seed.go does not fill them", table, strings.Join(missing, ", "))
	}
	for _, r := range rows {
		for i, v := range r {
			r[i] = db.value(v)
		}
	}
	if db.pg != nil {
		if _, err := db.pg.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
		return nil
	}
	tx, err := db.lite.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	// Many rows per statement: far fewer round trips through the driver.
	const perStmt = 200
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	head := fmt.Sprintf("INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ","))
	for lo := 0; lo < len(rows); lo += perStmt {
		chunk := rows[lo:min(lo+perStmt, len(rows))]
		args := make([]any, 0, len(chunk)*len(cols))
		for _, r := range chunk {
			args = append(args, r...)
		}
		q := head + strings.TrimSuffix(strings.Repeat(one+",", len(chunk)), ",")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit inserts into %s: %w", table, err)
	}
	return nil
}

// analyze refreshes the planner's statistics, as a database that has been
// running a while would have them.
func (db *seedDB) analyze(ctx context.Context) error {
	var err error
	if db.pg != nil {
		_, err = db.pg.Exec(ctx, "ANALYZE")
	} else {
		_, err = db.lite.ExecContext(ctx, "ANALYZE")
	}
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// seedJob is a job row.
type seedJob struct {
	ID     uuid.UUID
	Name   string
	Config model.JobConfig
}

// insertJobs writes enabled jobs in the default namespace.
func (db *seedDB) insertJobs(ctx context.Context, jobs []seedJob, now time.Time) error {
	cols := []string{"id", "namespace", "name", "status", "config", "created_at", "created_by", "updated_at", "updated_by"}
	rows := make([][]any, 0, len(jobs))
	for _, j := range jobs {
		cfg, err := json.Marshal(j.Config)
		if err != nil {
			return fmt.Errorf("encode job config: %w", err)
		}
		rows = append(rows, []any{j.ID, model.DefaultNamespace, j.Name, int(model.JobEnabled), string(cfg), now, "bench", now, "bench"})
	}
	return db.insert(ctx, "sched_job", cols, rows)
}

// seedCronSchedule is an enabled cron schedule row with its cursor.
type seedCronSchedule struct {
	ID, JobID  uuid.UUID
	Cron       string
	NextFireAt time.Time
}

// insertCronSchedules writes enabled cron schedules (UTC) with their
// cursors set.
func (db *seedDB) insertCronSchedules(ctx context.Context, scheds []seedCronSchedule, now time.Time) error {
	cols := []string{"id", "job_id", "namespace", "kind", "cron", "time_zone", "status", "next_fire_at", "created_at", "updated_at"}
	all, _, err := db.columns(ctx, "sched_schedule")
	if err != nil {
		return err
	}
	// Added by migration 00002 (when the spec last changed).
	specChanged := all["spec_changed_at"]
	if specChanged {
		cols = append(cols, "spec_changed_at")
	}
	rows := make([][]any, 0, len(scheds))
	for _, s := range scheds {
		row := []any{s.ID, s.JobID, model.DefaultNamespace, int(model.ScheduleCron), s.Cron, "UTC", int(model.ScheduleEnabled), s.NextFireAt, now, now}
		if specChanged {
			row = append(row, now)
		}
		rows = append(rows, row)
	}
	return db.insert(ctx, "sched_schedule", cols, rows)
}

// seedRun is a finished manual run: a task and its one succeeded instance.
type seedRun struct {
	TaskID, InstanceID, JobID uuid.UUID
	At                        time.Time // planned instant
	Config                    string    // the job config snapshot, JSON
}

// insertRuns writes succeeded tasks and their instances.
func (db *seedDB) insertRuns(ctx context.Context, runs []seedRun) error {
	taskCols := []string{"id", "job_id", "namespace", "scheduled_at", "run_at", "parameters", "config", "attempt", "status", "created_at", "updated_at", "finished_at"}
	instCols := []string{"id", "task_id", "job_id", "namespace", "attempt", "agent_id", "server_id", "status", "planned_at",
		"dispatched_at", "acked_at", "started_at", "finished_at", "exit_code", "created_at", "updated_at"}
	tasks := make([][]any, 0, len(runs))
	insts := make([][]any, 0, len(runs))
	for _, r := range runs {
		start := r.At.Add(2 * time.Millisecond)
		end := start.Add(3 * time.Millisecond)
		tasks = append(tasks, []any{r.TaskID, r.JobID, model.DefaultNamespace, r.At, r.At, "{}", r.Config, 1, int(model.TaskSucceeded), r.At, end, end})
		insts = append(insts, []any{r.InstanceID, r.TaskID, r.JobID, model.DefaultNamespace, 1, "seed-agent", "seed-server", int(model.InstanceSucceeded), r.At,
			r.At.Add(-time.Second), r.At.Add(-time.Second), start, end, 0, r.At.Add(-time.Second), end})
	}
	if err := db.insert(ctx, "sched_task", taskCols, tasks); err != nil {
		return err
	}
	return db.insert(ctx, "sched_task_instance", instCols, insts)
}
