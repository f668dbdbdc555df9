package agent

import (
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/protocol"
)

func TestOutbox(t *testing.T) {
	t.Parallel()
	log := func(n int) *protocol.TaskLog {
		return &protocol.TaskLog{InstanceID: uuid.New(), Stream: "stdout", Data: make([]byte, n)}
	}

	t.Run("SequencesInOrderUntilAcked", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(100, 1<<20)
		for range 5 {
			if ok, err := o.add(protocol.KindTaskLog, log(1), false); !ok || err != nil {
				t.Fatalf("add = %v, %v", ok, err)
			}
		}
		var seqs []uint64
		for m, ok := o.next(0); ok; m, ok = o.next(m.seq) {
			seqs = append(seqs, m.seq)
		}
		if len(seqs) != 5 || seqs[0] != 1 || seqs[4] != 5 {
			t.Fatalf("sequences %v, want 1..5", seqs)
		}
		if n, _ := o.ack(3); n != 3 || o.len() != 2 {
			t.Fatalf("ack(3) removed %d, left %d; want 3 and 2", n, o.len())
		}
		if m, ok := o.next(0); !ok || m.seq != 4 {
			t.Fatalf("next(0) after ack = %d, want 4", m.seq)
		}
		if n, _ := o.ack(3); n != 0 {
			t.Errorf("repeated ack removed %d", n)
		}
		o.ack(10)
		if ok, _ := o.add(protocol.KindTaskLog, log(1), false); !ok || o.lastSeq() != 6 {
			t.Errorf("after emptying, seq = %d, want 6: sequences are never reused", o.lastSeq())
		}
	})

	t.Run("BoundRefusesLogsButNotForced", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(2, 1<<20)
		for i, force := range []bool{false, false} {
			if ok, _ := o.add(protocol.KindTaskLog, log(1), force); !ok {
				t.Fatalf("add %d refused below the bound", i)
			}
		}
		if ok, _ := o.add(protocol.KindTaskLog, log(1), false); ok {
			t.Errorf("add over the message bound accepted")
		}
		if ok, _ := o.add(protocol.KindTaskDone, &protocol.TaskDone{}, true); !ok {
			t.Errorf("forced add refused")
		}
		if o.len() != 3 {
			t.Errorf("len = %d, want 3", o.len())
		}

		o = newOutbox(100, 1000)
		if ok, _ := o.add(protocol.KindTaskLog, log(600), false); !ok {
			t.Fatalf("first add refused")
		}
		if ok, _ := o.add(protocol.KindTaskLog, log(600), false); ok {
			t.Errorf("add over the byte bound accepted")
		}
		o.ack(1)
		if ok, _ := o.add(protocol.KindTaskLog, log(600), false); !ok {
			t.Errorf("add refused after the ack made room")
		}
	})

	t.Run("CompactsAfterManyAcks", func(t *testing.T) {
		t.Parallel()
		o := newOutbox(1<<20, 1<<30)
		for range 5000 {
			o.add(protocol.KindTaskLog, log(1), false)
		}
		o.ack(4000)
		if o.len() != 1000 || o.head != 0 || len(o.msgs) != 1000 {
			t.Errorf("len %d, head %d, slice %d; want 1000 live, compacted", o.len(), o.head, len(o.msgs))
		}
		if m, ok := o.next(0); !ok || m.seq != 4001 {
			t.Errorf("next(0) = %d, want 4001", m.seq)
		}
	})
}
