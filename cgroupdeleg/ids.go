package cgroupdeleg

import (
	"slices"

	"github.com/rootlessd/rootlessd/diag"
)

// The IDs of the findings [Detect] reports. They are stable; match one
// with errors.Is(err, cgroupdeleg.IDNotDelegated) or [Report.Finding].
const (
	// IDCgroupUnavailable: no cgroup filesystem at /sys/fs/cgroup.
	IDCgroupUnavailable diag.ID = "cgroupdeleg.cgroup-unavailable"
	// IDCgroupV1: cgroup v1 only. Docker reports "Cgroup Driver: none" and
	// ignores --cpus, --memory and --pids-limit.
	IDCgroupV1 diag.ID = "cgroupdeleg.cgroup-v1"
	// IDCgroupHybrid: v1 controllers plus an empty cgroup2 mount; same
	// consequences as IDCgroupV1.
	IDCgroupHybrid diag.ID = "cgroupdeleg.cgroup-hybrid"
	// IDNoSystemd: systemd is not PID 1, so rootless dockerd runs without
	// cgroups.
	IDNoSystemd diag.ID = "cgroupdeleg.no-systemd"
	// IDNoUserManager: no systemd user manager (user@UID.service) for the
	// user.
	IDNoUserManager diag.ID = "cgroupdeleg.no-user-manager"
	// IDNoUserBus: no D-Bus socket of the user's session bus.
	IDNoUserBus diag.ID = "cgroupdeleg.no-user-bus"
	// IDNoLinger: lingering is off; user services stop at logout.
	IDNoLinger diag.ID = "cgroupdeleg.no-linger"
	// IDNotDelegated: wanted controllers are not delegated to the user.
	IDNotDelegated diag.ID = "cgroupdeleg.not-delegated"
	// IDDelegatePending: the unit files delegate controllers that the
	// running user manager does not have yet.
	IDDelegatePending diag.ID = "cgroupdeleg.delegate-pending"
	// IDNotOwned: the user's cgroup is not owned by the user, so nothing is
	// delegated whatever cgroup.controllers lists.
	IDNotOwned diag.ID = "cgroupdeleg.not-owned"
	// IDCpusetNeedsSystemd244: cpuset is wanted but systemd is older than
	// 244.
	IDCpusetNeedsSystemd244 diag.ID = "cgroupdeleg.cpuset-needs-systemd-244"
	// IDNestedSystemd: systemd's cgroup tree is not at the cgroup root (WSL
	// 2.9), where dockerd looks for it.
	IDNestedSystemd diag.ID = "cgroupdeleg.nested-systemd"
	// IDInvalidDelegate: a Delegate= line names a controller systemd
	// rejects.
	IDInvalidDelegate diag.ID = "cgroupdeleg.invalid-delegate"
	// IDUnparsable: a file could not be parsed and was skipped.
	IDUnparsable diag.ID = "cgroupdeleg.unparsable"
	// IDUnreadable: a file could not be read and the answer may be
	// incomplete.
	IDUnreadable diag.ID = "cgroupdeleg.unreadable"
)

var allIDs = []diag.ID{
	IDCgroupUnavailable, IDCgroupV1, IDCgroupHybrid, IDNoSystemd,
	IDNoUserManager, IDNoUserBus, IDNoLinger,
	IDNotDelegated, IDDelegatePending, IDNotOwned, IDCpusetNeedsSystemd244, IDNestedSystemd,
	IDInvalidDelegate, IDUnparsable, IDUnreadable,
}

// IDs returns every ID a finding of this package can carry, in the order
// they are declared. The list is complete: a test fails when an ID is
// declared or used without being in it.
func IDs() []diag.ID { return slices.Clone(allIDs) }
