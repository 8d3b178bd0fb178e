//go:build linux

package cgroupdeleg_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
)

// statfsMode classifies /sys/fs/cgroup with unix.Statfs and x/sys's magic
// constants, independently of the package under test.
func statfsMode(t *testing.T) cgroupdeleg.Mode {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Logf("statfs /sys/fs/cgroup: %v", err)
		return cgroupdeleg.Unavailable
	}
	switch int64(st.Type) {
	case unix.CGROUP2_SUPER_MAGIC:
		return cgroupdeleg.Unified
	case unix.TMPFS_MAGIC, unix.CGROUP_SUPER_MAGIC:
		var u unix.Statfs_t
		if unix.Statfs("/sys/fs/cgroup/unified", &u) == nil && int64(u.Type) == unix.CGROUP2_SUPER_MAGIC {
			return cgroupdeleg.Hybrid
		}
		return cgroupdeleg.Legacy
	}
	return cgroupdeleg.Unavailable
}
