package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/protocol"
)

// Journal layout and limits (see doc.go, "Outbox on disk").
const (
	// segmentMaxBytes is the size past which the next message starts a new
	// segment. Acks free disk space a whole segment at a time, so the disk
	// holds at most about this much beyond the unacknowledged messages.
	segmentMaxBytes = 4 << 20
	// recordHeaderBytes is a record's length (uint32) and checksum (uint32).
	recordHeaderBytes = 8
	// maxRecordBytes bounds a record's body when reading: anything longer
	// is a corrupt length, not a message.
	maxRecordBytes = protocol.MaxFrameBytes + 1024
	segmentSuffix  = ".seg"
	runIDFile      = "run-id"
	lockFile       = "lock"
)

// Record types.
const (
	recMessage byte = 'm' // an outbox message: seq, id, kind, payload
	recAck     byte = 'a' // the server acknowledged every message up to seq
)

// errJournalInUse is returned by openJournal when another agent process
// holds the directory.
var errJournalInUse = errors.New("agent: outbox directory is in use by another agent process")

// journal is the outbox on disk: an append-only log of its messages and of
// the server's acks, in segment files named after the first sequence they
// may hold (DataDir/outbox/<seq, 20 digits>.seg). A record is
//
//	length uint32 | crc32c(body) uint32 | body
//
// with big-endian integers. A message's body is 'm', seq uint64, then the
// head id and the kind, each a length byte and its bytes, then the JSON
// payload; an ack's is 'a' and seq uint64. Records are written by one
// write(2) each, so a crash of the agent process keeps every record written
// before it; one torn by a crash mid-write, or by a crash of the machine, is
// detected by the checksum when the journal is loaded. What the journal
// does not itself fsync, the outbox syncs before it lets a message out (see
// outbox.sync).
//
// journal is safe for concurrent use, but its writers (append and ack) are
// called with the outbox's lock held, which orders the records.
type journal struct {
	dir        string
	maxSegment int64 // segmentMaxBytes, but for tests
	crc        *crc32.Table
	lock       *os.File // holds an flock on dir/lock while open

	mu    sync.Mutex
	segs  []segment // in sequence order; the last is appended to
	f     *os.File  // the last segment, open for appending; nil once closed
	size  int64     // the last segment's size
	acked uint64    // the last ack recorded
	buf   []byte
}

// segment is one file of the journal.
type segment struct {
	first uint64 // the lowest sequence it may hold: its name
	last  uint64 // the highest message sequence in it; 0 if it holds none
	path  string
}

// journalLoad is what a journal held when it was opened.
type journalLoad struct {
	// runID is the agent's RunID, kept in dir/run-id; a new one when the
	// journal is new.
	runID string
	// msgs are the messages not yet acknowledged, in sequence order.
	msgs []outMsg
	// seq is the highest sequence ever assigned: new messages follow it.
	seq uint64
	// numTorn counts records dropped because their checksum or length was
	// wrong (a write torn by a crash); numDiscarded counts segments dropped
	// because the journal had no run id.
	numTorn      int
	numDiscarded int
}

// openJournal opens the journal in dir, creating it, and loads what it
// holds; maxSegment of zero means segmentMaxBytes. It takes an exclusive
// flock on dir/lock, so two agent processes cannot share an outbox
// (errJournalInUse once lockWait passed). A torn record ends its segment:
// the last segment is truncated before it, so appends continue cleanly.
func openJournal(ctx context.Context, dir string, maxSegment int64) (*journal, *journalLoad, error) {
	if maxSegment <= 0 {
		maxSegment = segmentMaxBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create outbox dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open outbox lock: %w", err)
	}
	if err := lockFileWait(ctx, lock); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("%s: %w", dir, errJournalInUse)
		}
		return nil, nil, fmt.Errorf("lock outbox dir: %w", err)
	}
	j := &journal{dir: dir, maxSegment: maxSegment, crc: crc32.MakeTable(crc32.Castagnoli), lock: lock}
	load, err := j.load()
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	return j, load, nil
}

// lockWait bounds how long openJournal waits for the directory's lock. A
// lock just released by a Stop can stay held for a moment by a child being
// forked meanwhile, which shares the lock's file until it execs.
const lockWait = 2 * time.Second

// lockFileWait takes an exclusive flock on f, trying again for up to
// lockWait while another holds it (syscall.EWOULDBLOCK after that).
func lockFileWait(ctx context.Context, f *os.File) error {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		t.Reset(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			return err
		case <-t.C:
		}
	}
}

// load reads the run id and every segment, and opens the last segment for
// appending (creating one if there is none).
func (j *journal) load() (*journalLoad, error) {
	res := &journalLoad{}
	runID, err := os.ReadFile(filepath.Join(j.dir, runIDFile))
	switch {
	case err == nil && len(strings.TrimSpace(string(runID))) > 0:
		res.runID = strings.TrimSpace(string(runID))
	case err == nil || errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("read outbox run id: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(j.dir, "*"+segmentSuffix))
	if err != nil {
		return nil, fmt.Errorf("list outbox segments: %w", err)
	}
	for _, path := range names {
		first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), segmentSuffix), 10, 64)
		if err != nil {
			continue // not ours
		}
		j.segs = append(j.segs, segment{first: first, path: path})
	}
	slices.SortFunc(j.segs, func(a, b segment) int { return cmpUint64(a.first, b.first) })
	if res.runID == "" {
		// Segments without a run id were left by a journal that failed and
		// gave its run up (see outbox.failLocked): their sequences mean
		// nothing to the server any more.
		for _, s := range j.segs {
			if err := os.Remove(s.path); err != nil {
				return nil, fmt.Errorf("discard outbox segment: %w", err)
			}
		}
		res.numDiscarded, j.segs = len(j.segs), nil
		res.runID = uuid.NewString()
		if err := writeFileSync(filepath.Join(j.dir, runIDFile), []byte(res.runID+"\n")); err != nil {
			return nil, fmt.Errorf("write outbox run id: %w", err)
		}
	}

	var msgs []outMsg
	for i := range j.segs {
		s := &j.segs[i]
		last := i == len(j.segs)-1
		good, torn, err := j.readSegment(s, &msgs)
		if err != nil {
			return nil, err
		}
		res.seq = max(res.seq, s.first-min(s.first, 1), s.last)
		if !torn {
			continue
		}
		res.numTorn++
		if last {
			// Cut the torn tail so the next record follows a good one.
			if err := os.Truncate(s.path, good); err != nil {
				return nil, fmt.Errorf("truncate torn outbox segment: %w", err)
			}
		}
	}
	for _, m := range msgs {
		if m.seq > j.acked {
			res.msgs = append(res.msgs, m)
		}
	}
	// Sealed segments wholly acknowledged may remain after a crash between
	// an ack and the removal.
	if err := j.removeAckedLocked(); err != nil {
		return nil, err
	}
	if len(j.segs) == 0 {
		if err := j.createSegmentLocked(res.seq + 1); err != nil {
			return nil, err
		}
	} else {
		s := j.segs[len(j.segs)-1]
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open outbox segment: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("open outbox segment: %w", err)
		}
		j.f, j.size = f, st.Size()
		// What was loaded may be sent at once, so it must be on disk first:
		// the last segment may hold records written but not yet synced.
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync outbox segment: %w", err)
		}
	}
	return res, nil
}

// readSegment appends the messages of s to msgs, records its highest
// message sequence in s.last and raises j.acked to its acks. It returns the
// offset after the last good record, and whether a bad record stopped it.
func (j *journal) readSegment(s *segment, msgs *[]outMsg) (good int64, torn bool, err error) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return 0, false, fmt.Errorf("read outbox segment: %w", err)
	}
	for off := 0; off < len(b); {
		if len(b)-off < recordHeaderBytes {
			return int64(off), true, nil
		}
		n := int(binary.BigEndian.Uint32(b[off:]))
		sum := binary.BigEndian.Uint32(b[off+4:])
		if n < 9 || n > maxRecordBytes || len(b)-off-recordHeaderBytes < n {
			return int64(off), true, nil
		}
		body := b[off+recordHeaderBytes : off+recordHeaderBytes+n]
		if crc32.Checksum(body, j.crc) != sum {
			return int64(off), true, nil
		}
		seq := binary.BigEndian.Uint64(body[1:9])
		switch body[0] {
		case recAck:
			j.acked = max(j.acked, seq)
		case recMessage:
			m, ok := decodeMessage(seq, body[9:])
			if !ok {
				return int64(off), true, nil
			}
			*msgs = append(*msgs, m)
			s.last = max(s.last, seq)
		default:
			return int64(off), true, nil
		}
		off += recordHeaderBytes + n
	}
	return int64(len(b)), false, nil
}

// decodeMessage decodes the rest of a message record after its sequence.
func decodeMessage(seq uint64, b []byte) (outMsg, bool) {
	id, b, ok := cutShort(b)
	if !ok {
		return outMsg{}, false
	}
	kind, payload, ok := cutShort(b)
	if !ok {
		return outMsg{}, false
	}
	return outMsg{seq: seq, id: string(id), kind: protocol.Kind(kind), payload: slices.Clone(payload)}, true
}

// cutShort splits a length byte and that many bytes off b.
func cutShort(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return nil, nil, false
	}
	return b[1 : 1+b[0]], b[1+b[0]:], true
}

// append writes m to the last segment, starting a new one first if m would
// take it past maxSegment. It does not sync.
func (j *journal) append(m *outMsg) error {
	if len(m.id) > 255 || len(m.kind) > 255 {
		return fmt.Errorf("outbox message %d: id or kind too long", m.seq)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return os.ErrClosed
	}
	b := j.buf[:0]
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // the header, filled by writeLocked
	b = append(b, recMessage)
	b = binary.BigEndian.AppendUint64(b, m.seq)
	b = append(b, byte(len(m.id)))
	b = append(b, m.id...)
	b = append(b, byte(len(m.kind)))
	b = append(b, m.kind...)
	b = append(b, m.payload...)
	if j.size > 0 && j.size+int64(len(b)) > j.maxSegment {
		if err := j.rotateLocked(m.seq); err != nil {
			return err
		}
	}
	if err := j.writeLocked(b); err != nil {
		return err
	}
	s := &j.segs[len(j.segs)-1]
	s.last = max(s.last, m.seq)
	if cap(b) <= 1<<20 {
		j.buf = b // keep a reasonable buffer, not a huge message's
	}
	return nil
}

// ack records that the server acknowledged every message up to seq, and
// removes the sealed segments all of whose messages it acknowledged.
func (j *journal) ack(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return os.ErrClosed
	}
	if seq <= j.acked {
		return nil
	}
	b := j.buf[:0]
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // the header, filled by writeLocked
	b = append(b, recAck)
	b = binary.BigEndian.AppendUint64(b, seq)
	if err := j.writeLocked(b); err != nil {
		return err
	}
	j.buf = b
	j.acked = seq
	return j.removeAckedLocked()
}

// writeLocked frames the record in b (its header left blank) and writes it.
func (j *journal) writeLocked(b []byte) error {
	body := b[recordHeaderBytes:]
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(body, j.crc))
	n, err := j.f.Write(b)
	j.size += int64(n)
	if err != nil {
		return fmt.Errorf("write outbox segment: %w", err)
	}
	return nil
}

// removeAckedLocked removes the segments before the last one whose messages
// were all acknowledged. Segments hold increasing sequences, so they go from
// the front.
func (j *journal) removeAckedLocked() error {
	n := 0
	for n < len(j.segs)-1 && j.segs[n].last <= j.acked {
		if err := os.Remove(j.segs[n].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove outbox segment: %w", err)
		}
		n++
	}
	j.segs = slices.Delete(j.segs, 0, n)
	return nil
}

// rotateLocked seals the last segment, synced so that nothing in it waits
// on a later sync, and starts a new one at first.
func (j *journal) rotateLocked(first uint64) error {
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync outbox segment: %w", err)
	}
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("close outbox segment: %w", err)
	}
	j.f = nil
	return j.createSegmentLocked(first)
}

// createSegmentLocked creates the segment for sequences from first on and
// makes it the one appended to. The directory is synced, so the segment's
// name (which keeps the sequence counter) survives a crash of the machine.
func (j *journal) createSegmentLocked(first uint64) error {
	path := filepath.Join(j.dir, fmt.Sprintf("%020d%s", first, segmentSuffix))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create outbox segment: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return err
	}
	j.segs = append(j.segs, segment{first: first, path: path})
	j.f, j.size = f, 0
	return nil
}

// sync flushes what was appended to the disk. The last segment's file is
// synced without the lock, so appends go on meanwhile; a segment closed by
// a rotation in between was synced by it.
func (j *journal) sync() error {
	j.mu.Lock()
	f := j.f
	j.mu.Unlock()
	if f == nil {
		return os.ErrClosed
	}
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("sync outbox segment: %w", err)
	}
	return nil
}

// close syncs and closes the last segment and releases the directory.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if j.f != nil {
		err = j.f.Sync()
		err = errors.Join(err, j.f.Close())
		j.f = nil
	}
	if j.lock != nil {
		// Closing the file releases the flock.
		err = errors.Join(err, j.lock.Close())
		j.lock = nil
	}
	return err
}

// abandon closes the journal after a failure and removes its run id, so
// the next start discards what the journal holds and begins a new run: the
// outbox went on in memory, and sequences assigned since are not on disk.
func (j *journal) abandon() {
	_ = os.Remove(filepath.Join(j.dir, runIDFile))
	_ = syncDir(j.dir)
	j.mu.Lock()
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
	if j.lock != nil {
		_ = j.lock.Close()
		j.lock = nil
	}
	j.mu.Unlock()
}

// writeFileSync writes a small file durably: a temporary file, synced, then
// renamed over path, and the directory synced.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir syncs a directory, so the names created or removed in it last.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
