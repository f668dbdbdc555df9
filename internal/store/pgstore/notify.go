package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notify implements [store.Notifier] with pg_notify, on a pooled connection
// outside any transaction, so it is sent at once.
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", s.channel(channel), payload); err != nil {
		return fmt.Errorf("notify %s: %w", channel, interpretError(err))
	}
	return nil
}

// Listen implements [store.Notifier] on a connection of its own, outside the
// pool: LISTEN holds its session. After a failure it reconnects with a
// backoff of up to two seconds.
func (s *Store) Listen(ctx context.Context, channel string, onConnect func(), onMessage func(payload string)) error {
	backoff := 50 * time.Millisecond
	for {
		err := s.listenOnce(ctx, channel, onConnect, onMessage, func() { backoff = 50 * time.Millisecond })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.logger.WarnContext(ctx, "listen connection lost", "channel", channel, "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, channel string, onConnect func(), onMessage func(string), connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel(channel)}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	onConnect()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		onMessage(n.Payload)
	}
}

// channel scopes a channel name to the store's schema: channels belong to
// the database, and servers of different schemas (tests, or several
// installations in one database) must not hear each other.
func (s *Store) channel(name string) string {
	if s.cfg.Schema == "" {
		return name
	}
	return name + "_" + s.cfg.Schema
}
