//go:build linux

package rootless

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/internal/engine"
)

func engineInitialized() bool { return engine.Initialized() }

// setLocalOS fills in what the real machine answers through system calls.
func setLocalOS(h *host) {
	h.statfs = func(p string) (int64, error) {
		_, st, err := statfsExisting(p)
		return int64(st.Type), err
	}
	h.dir = func(p string) (int, fs.FileMode, error) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return 0, 0, &fs.PathError{Op: "stat", Path: p, Err: err}
		}
		return int(st.Uid), fs.FileMode(st.Mode & 0o7777), nil
	}
	h.tun = func() error {
		f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
		if err == nil {
			f.Close()
		}
		return err
	}
	setLocalProbes(h)
	h.locked = lockedByOther
	h.fileLocked = fileLocked
	h.selinux = func() bool {
		var st unix.Statfs_t
		return unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
	}
}
