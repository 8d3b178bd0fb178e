//go:build linux

package rootless

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/internal/engine"
)

// checkPrivateDir refuses a state directory that another user could have created or could
// change: under /tmp and the like (TOCTOU), writable by group or others, or owned by someone else.
// It creates missing directories with mode 0700.
func checkPrivateDir(dir string, uid int) error {
	if !filepath.IsAbs(dir) { // the walk below would never reach "/"
		return problem(IDStateDirCreate, fmt.Sprintf("%q is not an absolute path", dir), dir, "pass an absolute directory to WithStateDir")
	}
	for a := filepath.Dir(dir); ; a = filepath.Dir(a) {
		var st unix.Stat_t
		if err := unix.Stat(a, &st); err == nil && st.Mode&0o002 != 0 {
			return problem(IDStateDirUnsafe,
				fmt.Sprintf("%s is inside %s, which every user can write to: another user could create or replace it first", dir, a),
				fmt.Sprintf("%s has mode %04o", a, st.Mode&0o7777),
				"use a private directory such as $XDG_RUNTIME_DIR (/run/user/UID) or one under your home directory (WithStateDir)")
		}
		if a == "/" {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return because(problem(IDStateDirCreate, fmt.Sprintf("cannot create %s: %v", dir, err), dir,
			"choose a state directory you can write to (WithStateDir)"), err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	switch {
	case int(st.Uid) != uid:
		return problem(IDStateDirOwner, fmt.Sprintf("%s is owned by uid %d, not by you (%d)", dir, st.Uid, uid), dir,
			"use a directory you own (WithStateDir)")
	case st.Mode&0o077 != 0:
		return problem(IDStateDirMode, fmt.Sprintf("%s has mode %04o: other users can reach the daemon's sockets", dir, st.Mode&0o7777), dir,
			"run: chmod 0700 "+dir)
	}
	return nil
}

// statfsExisting returns the file system of dir, or, if dir does not exist, of its nearest
// existing ancestor, with that ancestor's path.
func statfsExisting(dir string) (string, unix.Statfs_t, error) {
	p := filepath.Clean(dir)
	for {
		var fs unix.Statfs_t
		err := unix.Statfs(p, &fs)
		if err == nil || !errors.Is(err, unix.ENOENT) || p == "/" || p == "." {
			return p, fs, err
		}
		p = filepath.Dir(p)
	}
}

// lock takes an exclusive, non-blocking flock on path. The kernel drops it when the process
// dies, so a lock left by a killed daemon is never stale. A lock held by someone else is a
// *lockedError (ErrAlreadyRunning) that names the holder when /proc/locks does.
func lock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := 0
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder = flockHolder(f)
		}
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &lockedError{path: path, holder: holder}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// lockedError reports a lock that another process holds.
type lockedError struct {
	path   string
	holder int // the pid /proc/locks gives for the flock; 0 if unknown
}

func (e *lockedError) Error() string {
	if e.holder > 0 {
		return fmt.Sprintf("%v: process %d holds %s", ErrAlreadyRunning, e.holder, e.path)
	}
	return fmt.Sprintf("%v: %s is locked", ErrAlreadyRunning, e.path)
}

func (e *lockedError) Unwrap() error { return ErrAlreadyRunning }

// inUse reports that another daemon holds the lock of the state directory or data root dir.
// kind is "state directory" or "data root", option the option that chooses another.
func inUse(kind, dir, option string, err error) error {
	le, ok := errors.AsType[*lockedError](err)
	if !ok {
		return fmt.Errorf("%s %s: %w", kind, dir, err)
	}
	who := "another daemon holds its lock " + le.path
	if le.holder > 0 {
		who = fmt.Sprintf("process %d holds its lock %s", le.holder, le.path)
	}
	return fmt.Errorf("%w: the %s %s is in use by another daemon (%s); stop that daemon, or give this one its own %s (%s)",
		ErrAlreadyRunning, kind, dir, who, kind, option)
}

// flockHolder returns the pid that /proc/locks names for a FLOCK on f's file, or 0.
func flockHolder(f *os.File) int {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	return parseLocks(string(b), unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
}

// parseLocks finds the pid of a FLOCK on the file with device major:minor and inode ino in the
// text of /proc/locks, whose lines read "6: FLOCK  ADVISORY  WRITE 25832 fe:00:950293 0 EOF"
// (blocked waiters are marked "->" and skipped). The device is the file system's, which
// st_dev does not always match (btrfs subvolumes): an inode that only one FLOCK names is taken
// too.
func parseLocks(text string, major, minor uint32, ino uint64) int {
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	suffix := ":" + strconv.FormatUint(ino, 10)
	byInode, n := 0, 0
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil || pid <= 0 {
			continue
		}
		if f[5] == want {
			return pid
		}
		if strings.HasSuffix(f[5], suffix) {
			byInode, n = pid, n+1
		}
	}
	if n == 1 {
		return byInode
	}
	return 0
}

// lockedByOther reports whether another process holds a flock on path (RootlessKit's lock).
func lockedByOther(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(tryFlock(f), unix.EWOULDBLOCK)
}

// tryFlock takes a LOCK_EX|LOCK_NB flock on f and gives it back at once: EWOULDBLOCK says
// another open file description holds a flock on the file.
func tryFlock(f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return err
	}
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

// fileLocked reports whether a process, this one included, holds a lock on the file at path
// that a new open file description conflicts with: a flock (a LOCK_EX|LOCK_NB attempt meets it)
// or a record lock (F_OFD_GETLK finds it). It answers in microseconds, where reading
// /proc/locks takes the kernel's file-lock semaphore for writing, which waits for an RCU grace
// period (10-16 ms on the test bed) and holds up every process that locks a file meanwhile. A
// missing file is not locked; one that cannot be opened or probed counts as locked, so that
// the caller asks /proc/locks.
func fileLocked(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil || lk.Type != unix.F_UNLCK {
		return true
	}
	return tryFlock(f) != nil
}

// cleanStale removes what a killed daemon left behind. It runs with the state lock held, so no
// daemon of ours is alive here; a socket that still answers belongs to a daemon someone else
// started, and is never touched.
//
// grace is how long a socket may go on answering while a killed tree dies (dyingTreeGrace).
func (l Paths) cleanStale(grace time.Duration) error {
	if lockedByOther(filepath.Join(l.RootlessKitStateDir, "lock")) {
		return fmt.Errorf("%w: RootlessKit state directory %s is locked by a running RootlessKit", ErrAlreadyRunning, l.RootlessKitStateDir)
	}
	if _, err := os.Lstat(l.Socket); err == nil {
		// No daemon of ours holds the lock, but the tree of one that was just killed may
		// still be dying (a relaunch right after a SIGKILL of its host program): give it a
		// moment to go before taking the socket for a foreign daemon's.
		if answers(l.Socket, grace) {
			return fmt.Errorf("%w: a daemon not started by rootlessd answers on %s; stop it or choose another state directory", ErrAlreadyRunning, l.Socket)
		}
		if err := os.Remove(l.Socket); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale socket: %w", err)
		}
	}
	// dockerd refuses to start while its pid file names a live process, and waits for a
	// "still running" containerd whose pid file is in the exec root. Those pids come from the
	// dead daemon's PID namespace and may well name live processes of a new one: stale by
	// definition here.
	if err := os.Remove(l.PIDFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale pid file: %w", err)
	}
	if err := removeTree(l.ExecRoot); err != nil {
		return fmt.Errorf("remove stale exec root: %w", err)
	}
	// A killed host program leaves the engine's spec file (it holds dockerd's environment) and
	// the watchdog's hand-over socket; no engine of ours uses them while we hold the lock.
	if !filepath.IsAbs(l.StateDir) {
		return nil
	}
	left, _ := filepath.Glob(filepath.Join(l.StateDir, engine.SpecFilePattern))
	for _, f := range append(left, filepath.Join(l.StateDir, probeSocketFile)) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", f, err)
		}
	}
	return nil
}

// answers reports whether something still accepts connections on the unix socket after
// grace; it returns false as soon as nothing does.
func answers(socket string, grace time.Duration) bool {
	deadline := time.Now().Add(grace)
	for {
		c, err := net.DialTimeout("unix", socket, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		if time.Now().After(deadline) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeTree removes dir like os.RemoveAll, first giving the owner write access to directories
// that dockerd left read-only (libnetwork does).
func removeTree(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// removeRuntimeFiles removes the socket, pid file and exec root a stopped daemon leaves.
func (l Paths) removeRuntimeFiles() error {
	var errs []error
	for _, f := range []string{l.Socket, l.PIDFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := removeTree(l.ExecRoot); err != nil {
		errs = append(errs, fmt.Errorf("remove exec root: %w", err))
	}
	return errors.Join(errs...)
}
