package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Tokens the benchmark bootstraps every fresh database with, so it knows
// them without reading the first-start banner.
const (
	adminToken = "bench-admin-token-0123456789"
	agentToken = "bench-agent-token-0123456789"
)

// Store kinds.
const (
	storeSQLite   = "sqlite"
	storePostgres = "postgres"
)

// clusterOpts describes a server and its agents.
type clusterOpts struct {
	// Store is storeSQLite or storePostgres.
	Store string
	// Agents is the number of agent processes; AgentCapacity the capacity
	// of each.
	Agents        int
	AgentCapacity int
	// Env is added to the server's environment (config overrides such as
	// HETUFLOW_SCHEDULER_DISPATCH_INTERVAL).
	Env []string
	// Seed, if set, runs after the database is migrated and before the
	// server starts, to fill it with SQL.
	Seed func(ctx context.Context, db *seedDB) error
}

// cluster is one server process, its database and its agent processes,
// each in a directory of its own under the benchmark's work directory.
type cluster struct {
	b      *bench
	opts   clusterOpts
	dir    string
	dbURL  string // the --database flag; empty for SQLite in the data dir
	schema string // PostgreSQL schema, dropped by close

	server  *process
	addr    string
	startup time.Duration // process start → health 200
	agents  []*process
	api     *client
}

// startCluster creates the database, starts the server and waits until it
// answers health, then starts the agents and waits until each is online.
// The caller must call close, also when startCluster fails.
func (b *bench) startCluster(ctx context.Context, opts clusterOpts) (*cluster, error) {
	b.seq++
	c := &cluster{b: b, opts: opts, dir: filepath.Join(b.workDir, fmt.Sprintf("c%03d", b.seq))}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return c, fmt.Errorf("create cluster dir: %w", err)
	}
	switch opts.Store {
	case storeSQLite:
	case storePostgres:
		c.schema = fmt.Sprintf("bench_%d_%03d", os.Getpid(), b.seq)
		u, err := b.createSchema(ctx, c.schema)
		if err != nil {
			return c, err
		}
		c.dbURL = u
	default:
		return c, fmt.Errorf("unknown store %q", opts.Store)
	}
	if opts.Seed != nil {
		if err := c.migrate(ctx); err != nil {
			return c, err
		}
		db, err := openSeedDB(ctx, opts.Store, c.sqlitePath(), c.dbURL)
		if err != nil {
			return c, err
		}
		err = opts.Seed(ctx, db)
		db.close()
		if err != nil {
			return c, fmt.Errorf("seed: %w", err)
		}
	}
	if err := c.startServer(ctx); err != nil {
		return c, err
	}
	for i := range opts.Agents {
		if err := c.startAgent(fmt.Sprintf("agent-%d", i+1)); err != nil {
			return c, err
		}
	}
	if opts.Agents > 0 {
		if err := c.waitAgentsOnline(ctx, opts.Agents); err != nil {
			return c, err
		}
	}
	return c, nil
}

// sqlitePath is the SQLite file the server uses.
func (c *cluster) sqlitePath() string { return filepath.Join(c.dir, "server", "hetuflow.db") }

// serverEnv is the server's environment.
func (c *cluster) serverEnv() []string {
	env := []string{
		"HETUFLOW_LOG_FORMAT=json",
		"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + adminToken,
		"HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + agentToken,
		// The bench drives the API far past a person's pace; the
		// per-credential request limit would measure itself instead.
		"HETUFLOW_SECURITY_REQUESTS_PER_SECOND=0", "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true",
	}
	env = append(env, c.b.serverEnv...)
	return append(env, c.opts.Env...)
}

// serverArgs are the server's flags.
func (c *cluster) serverArgs() []string {
	args := []string{"server", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(c.dir, "server")}
	if c.dbURL != "" {
		args = append(args, "--database", c.dbURL)
	}
	return args
}

// migrate applies the schema with `hetuflow migrate up`, for seeding before
// the server first starts.
func (c *cluster) migrate(ctx context.Context) error {
	db := c.dbURL
	if db == "" {
		if err := os.MkdirAll(filepath.Dir(c.sqlitePath()), 0o755); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		db = "sqlite:" + c.sqlitePath()
	}
	p, err := startProcess("migrate", c.b.bin, []string{"migrate", "up", "--database", db}, c.dir, []string{"HETUFLOW_LOG_FORMAT=json"}, filepath.Join(c.dir, "migrate.log"))
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop(time.Second)
		return ctx.Err()
	}
	p.stop(0)
	if p.waitErr != nil {
		return fmt.Errorf("migrate up: %w\n%s", p.waitErr, p.logTail(10))
	}
	return nil
}

// startServer starts the server process and waits for health; it records
// the time from process start to the first 200.
func (c *cluster) startServer(ctx context.Context) error {
	p, err := startProcess("server", c.b.bin, c.serverArgs(), c.dir, c.serverEnv(), filepath.Join(c.dir, "server.log"))
	if err != nil {
		return err
	}
	c.server = p
	line, err := p.waitLogLine(ctx, "server started", 30*time.Second)
	if err != nil {
		return err
	}
	addr, _ := line["address"].(string)
	if addr == "" {
		return errors.New(`server log line "server started" has no address`)
	}
	c.addr = addr
	c.api = newClient("http://"+addr, adminToken)
	if err := c.api.waitHealthy(ctx, 30*time.Second); err != nil {
		return fmt.Errorf("server health: %w\n%s", err, p.logTail(10))
	}
	c.startup = time.Since(p.started)
	return nil
}

// startAgent starts one agent process.
func (c *cluster) startAgent(id string) error {
	args := []string{
		"agent", "--server", "ws://" + c.addr, "--token", agentToken, "--id", id,
		"--capacity", strconv.Itoa(c.opts.AgentCapacity), "--data-dir", filepath.Join(c.dir, id),
	}
	p, err := startProcess(id, c.b.bin, args, c.dir, []string{"HETUFLOW_LOG_FORMAT=json"}, filepath.Join(c.dir, id+".log"))
	if err != nil {
		return err
	}
	c.agents = append(c.agents, p)
	return nil
}

// waitAgentsOnline polls the agents query until n agents are online.
func (c *cluster) waitAgentsOnline(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		total, err := c.api.count(ctx, "agents", filter{"status": map[string]any{"$eq": 100}})
		if err == nil && total >= n {
			return nil
		}
		for _, a := range c.agents {
			if a.exited() {
				return fmt.Errorf("%s exited: %v\n%s", a.name, a.waitErr, a.logTail(10))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d agents online (last error %v): %w", n, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// restartServer stops the server gracefully and starts it again on the
// same database.
func (c *cluster) restartServer(ctx context.Context) error {
	c.server.stop(15 * time.Second)
	return c.startServer(ctx)
}

// serverUsage reads the server process's memory and CPU time.
func (c *cluster) serverUsage() (procUsage, error) { return readUsage(c.server.pid()) }

// close stops the agents, then the server, and drops the PostgreSQL schema.
// Unless the benchmark keeps its work directory, the cluster's directory
// goes too.
func (c *cluster) close() {
	start := time.Now()
	defer func() { c.b.log.Debug("cluster closed", "dir", c.dir, "took", time.Since(start)) }()
	for _, a := range c.agents {
		a.stop(5 * time.Second)
	}
	if c.server != nil {
		c.server.stop(10 * time.Second)
	}
	if c.schema != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := c.b.dropSchema(ctx, c.schema); err != nil {
			c.b.log.Warn("drop schema", "schema", c.schema, "error", err)
		}
		cancel()
	}
	if c.api != nil {
		c.api.close()
	}
	if !c.b.keep {
		if err := os.RemoveAll(c.dir); err != nil {
			c.b.log.Warn("remove cluster dir", "dir", c.dir, "error", err)
		}
	}
}

// ensureNotExited fails when a process of the cluster died, naming it.
func (c *cluster) ensureNotExited() error {
	for _, p := range append([]*process{c.server}, c.agents...) {
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited during the run: %v\n%s", p.name, p.waitErr, p.logTail(10))
		}
	}
	return nil
}
