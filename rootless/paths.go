package rootless

import (
	"errors"
	"fmt"
	"path/filepath"
)

// State-directory files that belong to rootlessd. RootlessKit documents its own (child_pid,
// api.sock, netns, lock) in its state directory.
const (
	lockFile     = "rootlessd.lock"      // flock held for the daemon's lifetime: one daemon per state dir
	dataLockFile = "rootlessd-data.lock" // the same, in the data root: one daemon per data root (also when it equals the state dir)
)

// maxSocketPath is the size of sockaddr_un.sun_path minus its NUL.
const maxSocketPath = 107

// resolveLayout fills in the defaults of every path that no option set.
func resolveLayout(c *config, getenv func(string) string, h *host) (Paths, error) {
	l := Paths{StateDir: c.stateDir, RootlessKitStateDir: c.rkDir, Socket: c.socket, ExecRoot: c.execRoot,
		PIDFile: c.pidFile, DataRoot: c.dataRoot, DaemonConfig: c.daemonConfig}
	home := h.home
	if l.StateDir == "" {
		base := getenv("XDG_RUNTIME_DIR")
		if !filepath.IsAbs(base) { // unset, or relative: invalid, and ignored, per the XDG spec
			why := "XDG_RUNTIME_DIR is not set"
			if base != "" {
				why = fmt.Sprintf("XDG_RUNTIME_DIR (%q) is not absolute", base)
			}
			base = fmt.Sprintf("/run/user/%d", h.uid)
			if _, _, err := h.dir(base); err != nil {
				return l, because(problem(IDRuntimeDirMissing, fmt.Sprintf("%s and %s does not exist", why, base), "XDG_RUNTIME_DIR="+getenv("XDG_RUNTIME_DIR"),
					fmt.Sprintf("pass rootless.WithStateDir with a private directory, e.g. %s/.docker/run, or log in through a pam_systemd session (ssh, machinectl shell; not sudo -iu) so that %s exists", home, base)), err)
			}
		}
		l.StateDir = filepath.Join(base, "rootlessd")
	}
	def := func(p *string, name string) {
		if *p == "" {
			*p = filepath.Join(l.StateDir, name)
		}
	}
	def(&l.RootlessKitStateDir, "dockerd-rootless")
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
			return l, problem(IDDataRootNoHome,
				fmt.Sprintf("the home directory (%q) is not an absolute path, so the data root ~/.local/share/docker has no place", home), "HOME="+home,
				"set HOME, or pass rootless.WithDataRoot with a local directory")
		}
	}
	return l, l.checkSocketPaths()
}

// checkSocketPaths rejects a layout whose longest unix socket path cannot be bound.
func (l Paths) checkSocketPaths() error {
	var errs []error
	for _, s := range []struct{ path, option string }{
		{l.Socket, "WithSocket"},
		{filepath.Join(l.RootlessKitStateDir, "gvisortapvsock", "tap.sock"), "WithRootlessKitStateDir"}, // RootlessKit v3's longest
		{filepath.Join(l.ExecRoot, "containerd", "containerd.sock.ttrpc"), "WithExecRoot"},              // dockerd's containerd
	} {
		if len(s.path) > maxSocketPath {
			errs = append(errs, problem(IDSocketPathTooLong,
				fmt.Sprintf("socket path %s is %d bytes; unix sockets take at most %d", s.path, len(s.path), maxSocketPath), s.path,
				fmt.Sprintf("choose a shorter state directory (WithStateDir), e.g. under /run/user/UID, or a shorter path with %s", s.option)))
		}
	}
	return errors.Join(errs...)
}
