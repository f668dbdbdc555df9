package litestore

import (
	"context"
	"sync"
)

// hub delivers notifications within the process: SQLite serves one server.
type hub struct {
	mu        sync.Mutex
	listeners map[string]map[*listener]struct{}
}

// listener queues the payloads of one Listen call; the queue is unbounded
// so Notify never blocks and nothing is dropped.
type listener struct {
	mu    sync.Mutex
	queue []string
	ready chan struct{} // has a value while queue is not empty
}

// Notify implements [store.Notifier] in process.
func (s *Store) Notify(_ context.Context, channel, payload string) error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	for l := range s.hub.listeners[channel] {
		l.mu.Lock()
		l.queue = append(l.queue, payload)
		l.mu.Unlock()
		select {
		case l.ready <- struct{}{}:
		default:
		}
	}
	return nil
}

// Listen implements [store.Notifier] in process. It never loses its
// "connection", so onConnect runs once.
func (s *Store) Listen(ctx context.Context, channel string, onConnect func(), onMessage func(payload string)) error {
	l := &listener{ready: make(chan struct{}, 1)}
	s.hub.mu.Lock()
	if s.hub.listeners == nil {
		s.hub.listeners = map[string]map[*listener]struct{}{}
	}
	if s.hub.listeners[channel] == nil {
		s.hub.listeners[channel] = map[*listener]struct{}{}
	}
	s.hub.listeners[channel][l] = struct{}{}
	s.hub.mu.Unlock()
	defer func() {
		s.hub.mu.Lock()
		delete(s.hub.listeners[channel], l)
		s.hub.mu.Unlock()
	}()
	onConnect()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.ready:
		}
		l.mu.Lock()
		batch := l.queue
		l.queue = nil
		l.mu.Unlock()
		for _, p := range batch {
			onMessage(p)
		}
	}
}
