// Package tasklog stores the output of task instances as files under the
// server's data directory, one file per instance and stream. Chunks carry
// their byte offset in the stream, so a chunk that arrives twice is written
// twice to the same place and a chunk that arrives early leaves a hole that
// the missing one fills: duplicates and reordering after a reconnect cost
// nothing.
package tasklog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// MaxChunkBytes bounds one chunk, so a bad offset cannot grow a file without
// limit in one write.
const MaxChunkBytes = 4 << 20

// MaxStreamBytes bounds one stream of one instance; agents cap output well
// below it.
const MaxStreamBytes = 1 << 30

// Store reads and writes instance output. It is safe for concurrent use; a
// given instance's stream should be written by one goroutine at a time.
type Store struct {
	dir string
}

// New returns a Store keeping files under dir, creating it if needed.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(id uuid.UUID, stream model.LogStream) string {
	hex := id.String()
	// Spread files over directories by the random tail of the UUIDv7; its
	// head is a timestamp and would put everything in one place.
	return filepath.Join(s.dir, hex[len(hex)-2:], hex+"."+string(stream))
}

// Write stores data at offset in the instance's stream and returns the
// stream's size afterwards.
func (s *Store) Write(id uuid.UUID, stream model.LogStream, offset int64, data []byte) (int64, error) {
	if stream != model.Stdout && stream != model.Stderr {
		return 0, fmt.Errorf("unknown stream %q", stream)
	}
	if offset < 0 || len(data) > MaxChunkBytes || offset+int64(len(data)) > MaxStreamBytes {
		return 0, fmt.Errorf("chunk at %d of %d bytes is out of bounds", offset, len(data))
	}
	p := s.path(id, stream)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o640)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(p), 0o750); err == nil {
			f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o640)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	if len(data) > 0 {
		if _, err := f.WriteAt(data, offset); err != nil {
			return 0, fmt.Errorf("write log: %w", err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat log: %w", err)
	}
	return st.Size(), nil
}

// Size returns the stored size of a stream, 0 when nothing was stored.
func (s *Store) Size(id uuid.UUID, stream model.LogStream) (int64, error) {
	st, err := os.Stat(s.path(id, stream))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stat log: %w", err)
	}
	return st.Size(), nil
}

// Open returns a reader for a stream and its size. A stream with no output
// reads as empty.
func (s *Store) Open(id uuid.UUID, stream model.LogStream) (io.ReadSeekCloser, int64, error) {
	f, err := os.Open(s.path(id, stream))
	if errors.Is(err, os.ErrNotExist) {
		return nopReadSeekCloser{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat log: %w", err)
	}
	return f, st.Size(), nil
}

// Delete removes both streams of an instance.
func (s *Store) Delete(id uuid.UUID) error {
	var errs []error
	for _, stream := range []model.LogStream{model.Stdout, model.Stderr} {
		if err := os.Remove(s.path(id, stream)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type nopReadSeekCloser struct{}

func (nopReadSeekCloser) Read([]byte) (int, error)       { return 0, io.EOF }
func (nopReadSeekCloser) Seek(int64, int) (int64, error) { return 0, nil }
func (nopReadSeekCloser) Close() error                   { return nil }
