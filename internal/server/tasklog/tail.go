package tasklog

import (
	"bytes"
	"errors"
	"io"
)

// tailBlock is how much a tail search reads at a time.
const tailBlock = 32 << 10

// tailStart returns where the last n lines of the size bytes in r begin,
// reading backwards from the end so a short tail of a long stream costs
// little. A last line without a newline counts as a line.
func tailStart(r io.ReaderAt, size int64, n int) (int64, error) {
	if n <= 0 {
		return size, nil
	}
	buf := make([]byte, tailBlock)
	for end := size; end > 0; {
		start := max(0, end-tailBlock)
		b := buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := bytes.LastIndexByte(b, '\n'); i >= 0; i = bytes.LastIndexByte(b[:i], '\n') {
			pos := start + int64(i)
			if pos == size-1 {
				continue // ends the last line rather than starting one
			}
			if n--; n == 0 {
				return pos + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// tailStartStream is tailStart for a stream that can only be read forwards
// (a gzip file): it keeps the starts of the last n lines seen.
func tailStartStream(r io.Reader, size int64, n int) (int64, error) {
	if n <= 0 {
		return size, nil
	}
	starts := make([]int64, n) // a ring of line starts
	count := 0
	add := func(p int64) {
		starts[count%n] = p
		count++
	}
	if size > 0 {
		add(0)
	}
	buf := make([]byte, tailBlock)
	var pos int64
	for {
		m, err := r.Read(buf)
		b := buf[:m]
		for i := bytes.IndexByte(b, '\n'); i >= 0; {
			if p := pos + int64(i) + 1; p < size {
				add(p)
			}
			j := bytes.IndexByte(b[i+1:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
		}
		pos += int64(m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if count < n {
		return 0, nil
	}
	return starts[count%n], nil
}
