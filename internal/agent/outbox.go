package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/protocol"
)

// Outbox bounds. Past either, log chunks are refused (and counted as dropped
// by their run); task.running and task.done are always kept, so the outbox
// can exceed the bounds by one small message per instance. 64 MiB of encoded
// payload is about 48 MiB of output: minutes of a chatty job, held through a
// server restart. On disk the outbox takes at most one segment
// (segmentMaxBytes) more.
const (
	outboxMaxMessages = 50_000
	outboxMaxBytes    = 64 << 20
)

// outMsg is one sequenced agent→server message, encoded once; head.ts and
// head.ack are filled at each write.
type outMsg struct {
	seq     uint64
	id      string
	kind    protocol.Kind
	payload []byte
}

// outbox holds the sequenced messages the server has not acknowledged yet, in
// sequence order. It lives as long as the agent, across connections, so a
// report made while the agent is cut off is sent after it reconnects
// (DESIGN §2 promise 4). Sequences are assigned here and never reused.
//
// Once opened on a directory it also keeps its messages in a journal there
// (journal.go), so they survive an agent restart. A message may then go out
// only once it is durable: task.done is synced by add before it returns (so
// before its run is forgotten), task.running and log chunks in batches by
// the writer (sync) before it sends them, which keeps fsync off a run's
// start. So whatever the server may have seen is on disk, and a restart
// never reuses a sequence the server knows. If the disk fails the outbox
// goes on in memory only.
type outbox struct {
	maxMsgs  int
	maxBytes int
	// segmentBytes is the journal's segment size; zero means
	// segmentMaxBytes (tests shrink it).
	segmentBytes int64

	// syncMu serializes syncs, so one fsync covers every message appended
	// before it began, however many callers wait for it.
	syncMu sync.Mutex

	mu      sync.Mutex
	msgs    []outMsg // msgs[head:] are live, ordered by seq
	head    int
	bytes   int
	seq     uint64   // the last sequence assigned
	durable uint64   // messages up to here may be sent
	journal *journal // nil: in memory only
	failed  bool     // the journal failed: in memory only for good

	// notify is pinged (never blocking) when a message is added.
	notify chan struct{}
}

func newOutbox(maxMsgs, maxBytes int) *outbox {
	return &outbox{maxMsgs: maxMsgs, maxBytes: maxBytes, notify: make(chan struct{}, 1)}
}

// open loads the journal in dir, creating it, and keeps the outbox in it
// from then on. The messages and the sequence counter it held replace the
// outbox's (after a Stop and Start of one agent they are the same). It
// returns nil and no error when the journal failed before: the outbox then
// stays in memory. Call close when done.
func (o *outbox) open(ctx context.Context, dir string) (*journalLoad, error) {
	o.mu.Lock()
	failed := o.failed
	o.mu.Unlock()
	if failed {
		return nil, nil
	}
	j, load, err := openJournal(ctx, dir, o.segmentBytes)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.journal = j
	o.msgs, o.head, o.bytes = load.msgs, 0, 0
	for _, m := range load.msgs {
		o.bytes += len(m.payload)
	}
	o.seq, o.durable = load.seq, load.seq
	if len(load.msgs) > 0 {
		select {
		case o.notify <- struct{}{}:
		default:
		}
	}
	return load, nil
}

// close syncs and closes the journal; the outbox goes on in memory.
func (o *outbox) close() error {
	o.mu.Lock()
	j := o.journal
	o.journal, o.durable = nil, o.seq
	o.mu.Unlock()
	if j == nil {
		return nil
	}
	if err := j.close(); err != nil {
		return fmt.Errorf("close outbox: %w", err)
	}
	return nil
}

// persistent reports whether the outbox is on disk.
func (o *outbox) persistent() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.journal != nil
}

// failLocked gives the journal up after err: the outbox goes on in memory,
// and the next start begins a new run (journal.abandon).
func (o *outbox) failLocked(err error) error {
	if j := o.journal; j != nil {
		j.abandon()
	}
	o.journal, o.failed, o.durable = nil, true, o.seq
	return fmt.Errorf("outbox on disk failed, keeping reports in memory only: %w", err)
}

// add encodes payload and appends it with the next sequence. Unless force is
// set, it refuses (returns false) when the outbox is full. A task.done is
// synced to disk before add returns. An error with true means the message
// was kept, but only in memory.
func (o *outbox) add(kind protocol.Kind, payload any, force bool) (bool, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", kind, err)
	}
	m := outMsg{id: uuid.NewString(), kind: kind, payload: b}
	o.mu.Lock()
	if !force && (len(o.msgs)-o.head >= o.maxMsgs || o.bytes+len(b) > o.maxBytes) {
		o.mu.Unlock()
		return false, nil
	}
	o.seq++
	m.seq = o.seq
	var jerr error
	if o.journal != nil {
		if err := o.journal.append(&m); err != nil {
			jerr = o.failLocked(err)
		}
	}
	if o.journal == nil {
		o.durable = o.seq
	}
	o.msgs = append(o.msgs, m)
	o.bytes += len(b)
	o.mu.Unlock()
	// A result counts once it is on disk: its run is forgotten after that.
	if kind == protocol.KindTaskDone {
		jerr = errors.Join(jerr, o.sync())
	}
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return true, jerr
}

// sync makes every message added so far durable, so it may be sent. With a
// journal that is one fsync, shared by concurrent callers; without, nothing.
func (o *outbox) sync() error {
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	o.mu.Lock()
	target, j := o.seq, o.journal
	if target <= o.durable || j == nil {
		o.mu.Unlock()
		return nil
	}
	o.mu.Unlock()
	err := j.sync()
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.journal != j:
		// Closed or failed meanwhile: durable already covers everything.
		return nil
	case err != nil:
		return o.failLocked(err)
	}
	o.durable = max(o.durable, target)
	return nil
}

// ack removes the messages with sequence ≤ upTo and returns how many it
// removed. An error means the journal failed; the ack still took effect.
func (o *outbox) ack(upTo uint64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	var last uint64
	for o.head < len(o.msgs) && o.msgs[o.head].seq <= upTo {
		last = o.msgs[o.head].seq
		o.bytes -= len(o.msgs[o.head].payload)
		o.msgs[o.head] = outMsg{}
		o.head++
		n++
	}
	switch {
	case o.head == len(o.msgs):
		o.msgs, o.head = o.msgs[:0], 0
	case o.head > 1024 && o.head > len(o.msgs)/2:
		k := copy(o.msgs, o.msgs[o.head:])
		clear(o.msgs[k:])
		o.msgs, o.head = o.msgs[:k], 0
	}
	if n > 0 && o.journal != nil {
		// Record the last message removed, not upTo: a server claiming more
		// than was assigned must not hide later messages at the next load.
		if err := o.journal.ack(last); err != nil {
			return n, o.failLocked(err)
		}
	}
	return n, nil
}

// next returns the first durable message with a sequence above after.
func (o *outbox) next(after uint64) (outMsg, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	live := o.msgs[o.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].seq > after })
	if i == len(live) || live[i].seq > o.durable {
		return outMsg{}, false
	}
	return live[i], true
}

// lastSeq returns the highest sequence assigned so far.
func (o *outbox) lastSeq() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seq
}

// len returns the number of unacknowledged messages.
func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs) - o.head
}
