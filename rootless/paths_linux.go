//go:build linux

package rootless

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
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
// dies, so a lock left by a killed daemon is never stale.
func lock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked", ErrAlreadyRunning, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// lockedByOther reports whether another process holds a flock on path (RootlessKit's lock).
func lockedByOther(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// cleanStale removes what a killed daemon left behind. It runs with the state lock held, so no
// daemon of ours is alive here; a socket that still answers belongs to a daemon someone else
// started, and is never touched.
func (l Paths) cleanStale() error {
	if lockedByOther(filepath.Join(l.RootlessKitStateDir, "lock")) {
		return fmt.Errorf("%w: RootlessKit state directory %s is locked by a running RootlessKit", ErrAlreadyRunning, l.RootlessKitStateDir)
	}
	if _, err := os.Lstat(l.Socket); err == nil {
		if c, err := net.DialTimeout("unix", l.Socket, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("%w: a daemon not started by rootlessd answers on %s; stop it or choose another state directory", ErrAlreadyRunning, l.Socket)
		}
		if err := os.Remove(l.Socket); err != nil {
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
	return nil
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
