package cgroupdeleg

import (
	"errors"
	"fmt"
)

// Filesystem magic numbers (statfs(2) f_type) that decide the cgroup [Mode].
const (
	Cgroup2Magic int64 = 0x63677270 // CGROUP2_SUPER_MAGIC
	Cgroup1Magic int64 = 0x0027e0eb // CGROUP_SUPER_MAGIC
	TmpfsMagic   int64 = 0x01021994 // TMPFS_MAGIC
)

// Mode is how the host mounts cgroups. The zero value is Unavailable.
type Mode int

const (
	// Unavailable: /sys/fs/cgroup cannot be inspected or holds no cgroup
	// filesystem (statfs fails, or it is a plain sysfs directory, as in some
	// containers). It does not mean cgroup v1.
	Unavailable Mode = iota
	// Legacy: cgroup v1 only; /sys/fs/cgroup is a tmpfs of v1 hierarchies.
	Legacy
	// Hybrid: v1 hierarchies plus a cgroup2 mount at /sys/fs/cgroup/unified
	// that holds no controllers. Rootless containers use v1 here, so limits
	// are ignored just as on Legacy.
	Hybrid
	// Unified: /sys/fs/cgroup is cgroup2. The only mode in which rootless
	// Docker can enforce resource limits.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Unavailable:
		return "unavailable"
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Paths of the two mount points that decide the mode, relative to the host root.
const (
	cgroupMount  = "sys/fs/cgroup"
	unifiedMount = "sys/fs/cgroup/unified"
)

// DetectMode reports the host's cgroup mode from the filesystem type of
// /sys/fs/cgroup and /sys/fs/cgroup/unified, as runc and containerd do:
// cgroup2 at /sys/fs/cgroup is Unified; a tmpfs (or a v1 cgroup) there is
// Hybrid if /sys/fs/cgroup/unified is cgroup2 and Legacy otherwise.
// Anything else is Unavailable.
//
// It never looks at /proc/self/cgroup: a "0::" line appears on Hybrid hosts
// too. The error, non-nil only with Unavailable, says why no cgroup
// filesystem was found.
func DetectMode(sys *Sys) (Mode, error) {
	magic, err := sys.statfs(cgroupMount)
	if err != nil {
		return Unavailable, fmt.Errorf("cgroupdeleg: %w", err)
	}
	switch magic {
	case Cgroup2Magic:
		return Unified, nil
	case TmpfsMagic, Cgroup1Magic:
		if m, err := sys.statfs(unifiedMount); err == nil && m == Cgroup2Magic {
			return Hybrid, nil
		}
		return Legacy, nil
	}
	return Unavailable, fmt.Errorf("cgroupdeleg: /%s is not a cgroup filesystem (type %s): %w",
		cgroupMount, magicName(magic), errNoCgroupFS)
}

var errNoCgroupFS = errors.New("no cgroup filesystem mounted")

var magicNames = map[int64]string{
	Cgroup2Magic: "cgroup2",
	Cgroup1Magic: "cgroup",
	TmpfsMagic:   "tmpfs",
	0x62656572:   "sysfs",
	0x9fa0:       "proc",
	0xef53:       "ext4",
	0x794c7630:   "overlay",
	0x58465342:   "xfs",
	0x9123683e:   "btrfs",
}

func magicName(m int64) string {
	if n, ok := magicNames[m]; ok {
		return n
	}
	return fmt.Sprintf("%#x", m)
}
