package tasklog

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// tmpExt marks a gzip file being written; it is renamed into place when
// complete, so a crash never leaves a partial ".gz".
const tmpExt = ".tmp"

// CompressorTestSignals lets tests wait for compressions.
type CompressorTestSignals struct {
	Compressed testsignal.Signal[uuid.UUID] // an instance whose streams were compressed
}

// Init enables the signals.
func (s *CompressorTestSignals) Init() { s.Compressed.Init() }

// Compressor packs finished logs, one instance at a time, in the
// background: [Store.Finish] queues them, so the results writer that
// finishes runs never waits for it. Files are gzipped; database rows are
// merged into fewer, larger rows, which PostgreSQL compresses (TOAST) once
// they pass about 2 KB. When it is not running, or behind by more than the
// store's queue, logs stay unpacked; reads work on either form. A stop
// abandons the instance in progress, leaving that stream unpacked.
type Compressor struct {
	lifecycle.Base
	store *Store
	log   *slog.Logger

	TestSignals CompressorTestSignals
}

// NewCompressor returns a Compressor for store's finished logs.
func NewCompressor(store *Store, logger *slog.Logger) *Compressor {
	if store == nil || logger == nil {
		panic("tasklog: NewCompressor needs a store and a logger")
	}
	return &Compressor{store: store, log: logger}
}

// Start runs the compressor until ctx ends or Stop is called.
func (c *Compressor) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := c.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped() // deferred first, so it runs last
		for {
			select {
			case <-ctx.Done():
				return
			case id := <-c.store.compress:
				if err := c.store.b.pack(ctx, id); err != nil && !lifecycle.IsStop(ctx, err) {
					c.log.WarnContext(ctx, "compress log", "instance_id", id, "error", err)
					continue
				}
				c.TestSignals.Compressed.Signal(id)
			}
		}
	}()
	return nil
}

// pack compresses both streams of an instance.
func (f *files) pack(ctx context.Context, id uuid.UUID) error {
	var errs []error
	for _, stream := range streams {
		if err := f.compressStream(ctx, id, stream); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", stream, err))
		}
	}
	return errors.Join(errs...)
}

// compressStream replaces a finished stream's file by its gzip form, or,
// for a stream under packMinBytes, seals it: gzip saves nothing on a line or
// two (the file takes a block either way), and each compression costs a
// deflater's setup, a new file, an fsync, a rename and an unlink, which at a
// thousand runs a second was a fifth of a SQLite server's CPU
// (bench/results/2026-11-27-3.md). The slow part runs without the lock: a
// finished stream takes no more writes.
func (f *files) compressStream(ctx context.Context, id uuid.UUID, stream model.LogStream) error {
	p := f.path(id, stream)
	src, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no output, or compressed already
	}
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer src.Close()
	if st, err := src.Stat(); err != nil {
		return fmt.Errorf("stat log: %w", err)
	} else if st.Size() < packMinBytes {
		return seal(p)
	}
	tmp := p + gzExt + tmpExt
	n, err := writeGz(ctx, tmp, src)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Check again under the lock: Delete may have removed the stream
	// meanwhile (renaming now would leave an orphan), and a stream that
	// changed size was not finished after all.
	st, err := os.Stat(p)
	if err != nil || st.Size() != n {
		os.Remove(tmp)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("stat log: %w", err)
		}
		return fmt.Errorf("log grew from %d to %d bytes while compressing", n, st.Size())
	}
	// The gzip file exists before the plain one goes, so a reader that
	// misses the plain file always finds the gzip one.
	if err := os.Rename(tmp, p+gzExt); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename compressed log: %w", err)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("remove plain log: %w", err)
	}
	return nil
}

// writeGz writes src gzipped to path, synced, and returns how many bytes
// it compressed.
func writeGz(ctx context.Context, path string, src io.Reader) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return 0, fmt.Errorf("create compressed log: %w", err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	n, err := io.Copy(zw, ctxReader{ctx, src})
	if err != nil {
		return 0, fmt.Errorf("compress log: %w", err)
	}
	if n > MaxStreamBytes {
		// The trailer would no longer hold the exact size.
		return 0, fmt.Errorf("log of %d bytes is too large to compress", n)
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("compress log: %w", err)
	}
	// Synced before the rename: the plain file is removed next, and a crash
	// must not leave an empty gzip file as the only copy.
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync compressed log: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("close compressed log: %w", err)
	}
	return n, nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// gzSize returns the uncompressed size of a gzip file written by
// compressStream: one member, whose trailer ends with the size modulo
// 2^32, exact because streams are smaller (MaxStreamBytes).
func gzSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat compressed log: %w", err)
	}
	const minGzip = 18 // header and trailer of an empty member
	if st.Size() < minGzip {
		return 0, fmt.Errorf("compressed log %s is truncated", f.Name())
	}
	var b [4]byte
	if _, err := f.ReadAt(b[:], st.Size()-4); err != nil {
		return 0, fmt.Errorf("read compressed log size: %w", err)
	}
	return int64(binary.LittleEndian.Uint32(b[:])), nil
}

// gzReader reads a compressed stream and closes its file.
type gzReader struct {
	*gzip.Reader
	f *os.File
}

func (g gzReader) Close() error {
	g.Reader.Close()
	return g.f.Close()
}

// openGz opens the compressed stream at path from offset; a missing file is
// an empty stream.
func openGz(path string, offset int64) (io.ReadCloser, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return emptyReader{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open log: %w", err)
	}
	size, err := gzSize(f)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if offset >= size {
		f.Close()
		return emptyReader{}, size, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("read compressed log: %w", err)
	}
	r := gzReader{zr, f}
	// gzip cannot seek: decompress up to offset.
	if _, err := io.CopyN(io.Discard, r, offset); err != nil {
		r.Close()
		return nil, 0, fmt.Errorf("skip to %d in compressed log: %w", offset, err)
	}
	return r, size, nil
}

// tailGz is files.tailOffset for a compressed stream.
func tailGz(path string, n int) (offset, size int64, err error) {
	r, size, err := openGz(path, 0)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	offset, err = tailStartStream(r, size, n)
	if err != nil {
		return 0, 0, fmt.Errorf("tail compressed log: %w", err)
	}
	return offset, size, nil
}

// sealedMode marks a finished plain stream (see compressStream): a stream
// file is created writable by its owner, and a sealed one is not. The mark
// is in the file's mode because write checks it on the file it opened,
// with no extra lookup, and it survives a restart as the gzip form does.
// (The server often runs as root, which may write to it anyway: the mode
// is a mark, not a lock.)
const sealedMode = 0o440

// seal marks the finished plain stream at p; a stream deleted meanwhile
// needs no mark.
func seal(p string) error {
	if err := os.Chmod(p, sealedMode); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("seal log: %w", err)
	}
	return nil
}

// sealed reports whether a stream file's mode marks it finished.
func sealed(mode os.FileMode) bool { return mode.Perm()&0o200 == 0 }
