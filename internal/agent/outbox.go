package agent

import (
	"encoding/json"
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
// server restart.
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
type outbox struct {
	maxMsgs  int
	maxBytes int

	mu    sync.Mutex
	msgs  []outMsg // msgs[head:] are live, ordered by seq
	head  int
	bytes int
	seq   uint64 // the last sequence assigned

	// notify is pinged (never blocking) when a message is added.
	notify chan struct{}
}

func newOutbox(maxMsgs, maxBytes int) *outbox {
	return &outbox{maxMsgs: maxMsgs, maxBytes: maxBytes, notify: make(chan struct{}, 1)}
}

// add encodes payload and appends it with the next sequence. Unless force is
// set, it refuses (returns false) when the outbox is full.
func (o *outbox) add(kind protocol.Kind, payload any, force bool) (bool, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", kind, err)
	}
	id := uuid.NewString()
	o.mu.Lock()
	if !force && (len(o.msgs)-o.head >= o.maxMsgs || o.bytes+len(b) > o.maxBytes) {
		o.mu.Unlock()
		return false, nil
	}
	o.seq++
	o.msgs = append(o.msgs, outMsg{seq: o.seq, id: id, kind: kind, payload: b})
	o.bytes += len(b)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return true, nil
}

// ack removes the messages with sequence ≤ upTo and returns how many it
// removed.
func (o *outbox) ack(upTo uint64) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for o.head < len(o.msgs) && o.msgs[o.head].seq <= upTo {
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
	return n
}

// next returns the first message with a sequence above after.
func (o *outbox) next(after uint64) (outMsg, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	live := o.msgs[o.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].seq > after })
	if i == len(live) {
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
