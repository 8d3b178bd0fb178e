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

// State-directory files that belong to rootlessd. RootlessKit documents its own (child_pid,
// api.sock, netns, lock) in its state directory.
const (
	lockFile     = "rootlessd.lock"      // flock held for the daemon's lifetime: one daemon per state dir
	dataLockFile = "rootlessd-data.lock" // the same, in the data root: one daemon per data root (also when it equals the state dir)
)

// maxSocketPath is the size of sockaddr_un.sun_path minus its NUL.
const maxSocketPath = 107

// layout is where everything of one daemon lives.
type layout struct {
	StateDir     string
	RKDir        string // RootlessKit's state dir
	Socket       string
	ExecRoot     string
	PIDFile      string
	DataRoot     string
	DaemonConfig string // "" for dockerd's default
}

// resolveLayout fills in the defaults of every path that no option set.
func resolveLayout(c *config, getenv func(string) string, uid int, home string) (layout, error) {
	l := layout{StateDir: c.stateDir, RKDir: c.rkDir, Socket: c.socket, ExecRoot: c.execRoot,
		PIDFile: c.pidFile, DataRoot: c.dataRoot, DaemonConfig: c.daemonConfig}
	if l.StateDir == "" {
		base := getenv("XDG_RUNTIME_DIR")
		if !filepath.IsAbs(base) { // unset, or relative: invalid, and ignored, per the XDG spec
			why := "XDG_RUNTIME_DIR is not set"
			if base != "" {
				why = fmt.Sprintf("XDG_RUNTIME_DIR (%q) is not absolute", base)
			}
			base = fmt.Sprintf("/run/user/%d", uid)
			if _, err := os.Stat(base); err != nil {
				return l, &PrereqError{Check: "state-dir",
					Detail: fmt.Sprintf("%s and %s does not exist", why, base),
					Remedy: fmt.Sprintf("pass rootless.WithStateDir with a private directory, e.g. %s/.docker/run, or log in through a pam_systemd session (ssh, machinectl shell) so that %s exists", home, base),
					Err:    err}
			}
		}
		l.StateDir = filepath.Join(base, "rootlessd")
	}
	def := func(p *string, name string) {
		if *p == "" {
			*p = filepath.Join(l.StateDir, name)
		}
	}
	def(&l.RKDir, "dockerd-rootless")
	def(&l.Socket, "docker.sock")
	def(&l.ExecRoot, "docker")
	def(&l.PIDFile, "docker.pid")
	if l.DataRoot == "" {
		switch x := getenv("XDG_DATA_HOME"); {
		case filepath.IsAbs(x):
			l.DataRoot = filepath.Join(x, "docker")
		case filepath.IsAbs(home):
			l.DataRoot = filepath.Join(home, ".local", "share", "docker")
		default:
			return l, &PrereqError{Check: "data-root",
				Detail: fmt.Sprintf("the home directory (%q) is not an absolute path, so the data root ~/.local/share/docker has no place", home),
				Remedy: "set HOME, or pass rootless.WithDataRoot with a local directory"}
		}
	}
	return l, l.checkSocketPaths()
}

// checkSocketPaths rejects a layout whose longest unix socket path cannot be bound.
func (l layout) checkSocketPaths() error {
	var errs []error
	for _, s := range []struct{ path, option string }{
		{l.Socket, "WithSocket"},
		{filepath.Join(l.RKDir, "gvisortapvsock", "tap.sock"), "WithRootlessKitStateDir"},  // RootlessKit v3's longest
		{filepath.Join(l.ExecRoot, "containerd", "containerd.sock.ttrpc"), "WithExecRoot"}, // dockerd's containerd
	} {
		if len(s.path) > maxSocketPath {
			errs = append(errs, &PrereqError{Check: "socket-path",
				Detail: fmt.Sprintf("socket path %s is %d bytes; unix sockets take at most %d", s.path, len(s.path), maxSocketPath),
				Remedy: fmt.Sprintf("choose a shorter state directory (WithStateDir), e.g. under /run/user/UID, or a shorter path with %s", s.option)})
		}
	}
	return errors.Join(errs...)
}

// checkPrivateDir refuses a state directory that another user could have created or could
// change: under /tmp and the like (TOCTOU), writable by group or others, or owned by someone else.
// It creates missing directories with mode 0700.
func checkPrivateDir(dir string, uid int) error {
	if !filepath.IsAbs(dir) { // the walk below would never reach "/"
		return &PrereqError{Check: "state-dir", Detail: fmt.Sprintf("%q is not an absolute path", dir),
			Remedy: "pass an absolute directory to WithStateDir"}
	}
	for a := filepath.Dir(dir); ; a = filepath.Dir(a) {
		var st unix.Stat_t
		if err := unix.Stat(a, &st); err == nil && st.Mode&0o002 != 0 {
			return &PrereqError{Check: "state-dir",
				Detail: fmt.Sprintf("%s is inside %s, which every user can write to: another user could create or replace it first", dir, a),
				Remedy: "use a private directory such as $XDG_RUNTIME_DIR (/run/user/UID) or one under your home directory"}
		}
		if a == "/" {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &PrereqError{Check: "state-dir", Detail: fmt.Sprintf("cannot create %s: %v", dir, err),
			Remedy: "choose a state directory you can write to (WithStateDir)", Err: err}
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	switch {
	case int(st.Uid) != uid:
		return &PrereqError{Check: "state-dir", Detail: fmt.Sprintf("%s is owned by uid %d, not by you (%d)", dir, st.Uid, uid),
			Remedy: "use a directory you own (WithStateDir)"}
	case st.Mode&0o077 != 0:
		return &PrereqError{Check: "state-dir", Detail: fmt.Sprintf("%s has mode %04o: other users can reach the daemon's sockets", dir, st.Mode&0o7777),
			Remedy: fmt.Sprintf("run: chmod 0700 %s", dir)}
	}
	return nil
}

// nfsMagic is the statfs type of NFS mounts.
const nfsMagic = 0x6969

// checkDataRoot refuses a data root on NFS (the seed's "lchown ... operation not permitted").
// A data root that does not exist yet is judged by the file system it will be created on.
func checkDataRoot(dir string) error {
	_, fs, err := statfsExisting(dir)
	if err != nil || fs.Type != nfsMagic {
		return nil // unknown: dockerd reports what it cannot do
	}
	return &PrereqError{Check: "data-root-nfs",
		Detail: fmt.Sprintf("data root %s is on NFS: image layers fail with \"lchown <FILE>: operation not permitted\" (NFS does not honour the user namespace's ids)", dir),
		Remedy: `put the data root on a local filesystem: rootless.WithDataRoot("/somewhere-out-of-nfs") or {"data-root":"/somewhere-out-of-nfs"} in ~/.config/docker/daemon.json`}
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
func (l layout) cleanStale() error {
	if lockedByOther(filepath.Join(l.RKDir, "lock")) {
		return fmt.Errorf("%w: RootlessKit state directory %s is locked by a running RootlessKit", ErrAlreadyRunning, l.RKDir)
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
