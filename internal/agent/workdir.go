package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hetuflow/hetuflow/internal/protocol"
)

// workDirPoolSize bounds the empty work dirs kept for reuse.
const workDirPoolSize = 64

// workDirMode is the mode of a fresh work dir.
const workDirMode = 0o750

// workDirs hands out the per-run work dirs, DataDir/runs/<instance id>.
// On most file systems a rename costs a fifth of a mkdir and an rmdir, so a
// dir that is empty after its run is renamed into DataDir/runs/.pool and
// renamed out again for a later run.
type workDirs struct {
	runs string // DataDir/runs
	pool string // DataDir/runs/.pool

	mu   sync.Mutex
	free []string // empty dirs in pool
	seq  int
}

// reset empties the pool; it runs at the agent's start, so a pool left by
// a crash is not trusted.
func (w *workDirs) reset(runs string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.runs, w.pool, w.free = runs, filepath.Join(runs, ".pool"), nil
	if err := os.RemoveAll(w.pool); err != nil {
		return err
	}
	return os.MkdirAll(w.pool, 0o700)
}

// get makes dir: from the pool, or new.
func (w *workDirs) get(dir string) error {
	w.mu.Lock()
	var from string
	if n := len(w.free); n > 0 {
		from, w.free = w.free[n-1], w.free[:n-1]
	}
	w.mu.Unlock()
	if from != "" && unix.Rename(from, dir) == nil {
		return nil
	}
	err := os.Mkdir(dir, workDirMode)
	if errors.Is(err, os.ErrNotExist) { // DataDir/runs was removed
		err = os.MkdirAll(dir, workDirMode)
	}
	return err
}

// warm fills the pool up to n empty dirs (at most workDirPoolSize), so
// that the first runs do not each create theirs at their start.
func (w *workDirs) warm(n int) error {
	n = min(n, workDirPoolSize)
	for {
		w.mu.Lock()
		if w.pool == "" || len(w.free) >= n {
			w.mu.Unlock()
			return nil
		}
		w.seq++
		dir := filepath.Join(w.pool, strconv.Itoa(w.seq))
		w.mu.Unlock()
		if err := os.Mkdir(dir, workDirMode); err != nil {
			return err
		}
		w.mu.Lock()
		w.free = append(w.free, dir)
		w.mu.Unlock()
	}
}

// put removes dir after its run: into the pool if it is empty and as it
// was made, else for good.
func (w *workDirs) put(dir string) error {
	if pristine(dir) {
		w.mu.Lock()
		if w.pool != "" && len(w.free) < workDirPoolSize {
			w.seq++
			to := filepath.Join(w.pool, strconv.Itoa(w.seq))
			w.mu.Unlock()
			if unix.Rename(dir, to) == nil {
				w.mu.Lock()
				w.free = append(w.free, to)
				w.mu.Unlock()
				return nil
			}
		} else {
			w.mu.Unlock()
		}
	}
	if syscall.Rmdir(dir) == nil {
		return nil
	}
	return os.RemoveAll(dir)
}

// pristine reports whether dir is empty, is the agent's and has the mode
// of a fresh work dir.
func pristine(dir string) bool {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&0o7777 != workDirMode || int(st.Uid) != os.Geteuid() {
		return false
	}
	var buf [256]byte
	for {
		n, err := unix.Getdents(fd, buf[:])
		if err != nil {
			return false
		}
		if n == 0 {
			return true
		}
		for b := buf[:n]; len(b) > 0; {
			// linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
			reclen := int(b[16]) | int(b[17])<<8
			if reclen <= 19 || reclen > len(b) {
				return false
			}
			name := b[19:reclen]
			if i := indexNUL(name); i >= 0 {
				name = name[:i]
			}
			if string(name) != "." && string(name) != ".." {
				return false
			}
			b = b[reclen:]
		}
	}
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// workDir returns the run's working directory and a function that cleans it
// up: the configured one, which must exist, or a fresh one under DataDir,
// owned by the run's user, that is removed after the run unless the job
// keeps it.
func (a *Agent) workDir(ctx context.Context, d *protocol.DispatchedInstance, user *runUser) (string, func(), error) {
	if wd := d.Config.WorkDir; wd != "" {
		fi, err := os.Stat(wd)
		if err != nil {
			return "", nil, fmt.Errorf("work dir: %w", err)
		}
		if !fi.IsDir() {
			return "", nil, fmt.Errorf("work dir %s is not a directory", wd)
		}
		return wd, func() {}, nil
	}
	dir := filepath.Join(a.cfg.DataDir, "runs", d.InstanceID.String())
	switch {
	case user != nil && user.cred != nil:
		// Not from the pool: the dir becomes the user's.
		if err := os.Mkdir(dir, workDirMode); err != nil {
			return "", nil, fmt.Errorf("create work dir: %w", err)
		}
		if err := os.Chown(dir, user.uid, user.gid); err != nil {
			_ = os.Remove(dir)
			return "", nil, fmt.Errorf("give work dir to user %s: %w", user.name, err)
		}
	default:
		if err := a.workDirs.get(dir); err != nil {
			return "", nil, fmt.Errorf("create work dir: %w", err)
		}
	}
	if d.Config.KeepWorkDir {
		return dir, func() {}, nil
	}
	return dir, func() {
		if err := a.workDirs.put(dir); err != nil {
			a.log.WarnContext(ctx, "remove work dir", "instance_id", d.InstanceID, "error", err)
		}
	}, nil
}
