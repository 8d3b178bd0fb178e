package cgroupdeleg

import (
	"fmt"
	"strings"
)

// Severity ranks a [Finding].
type Severity int

const (
	// Info is worth knowing; nothing fails because of it.
	Info Severity = iota
	// Warning: rootless Docker runs, but some resource limits are ignored
	// or refused.
	Warning
	// Error: rootless Docker will fail to start containers until it is
	// fixed.
	Error
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// ID names a kind of [Finding]. IDs are stable and safe to match on.
type ID string

// The findings [Detect] reports.
const (
	// CgroupUnavailable: no cgroup filesystem at /sys/fs/cgroup.
	CgroupUnavailable ID = "cgroup-unavailable"
	// CgroupV1: cgroup v1 only. Docker reports "Cgroup Driver: none" and
	// ignores --cpus, --memory and --pids-limit.
	CgroupV1 ID = "cgroup-v1"
	// CgroupHybrid: v1 controllers plus an empty cgroup2 mount; same
	// consequences as CgroupV1.
	CgroupHybrid ID = "cgroup-hybrid"
	// NoSystemd: systemd is not PID 1, so rootless dockerd runs without
	// cgroups.
	NoSystemd ID = "no-systemd"
	// NoUserManager: no systemd user manager (user@UID.service) for the
	// user.
	NoUserManager ID = "no-user-manager"
	// NoUserBus: no D-Bus socket of the user's session bus.
	NoUserBus ID = "no-user-bus"
	// NoLinger: lingering is off; user services stop at logout.
	NoLinger ID = "no-linger"
	// NotDelegated: wanted controllers are not delegated to the user.
	NotDelegated ID = "not-delegated"
	// DelegatePending: the unit files delegate controllers that the running
	// user manager does not have yet.
	DelegatePending ID = "delegate-pending"
	// NotOwned: the user's cgroup is not owned by the user, so nothing is
	// delegated whatever cgroup.controllers lists.
	NotOwned ID = "not-owned"
	// CpusetNeedsSystemd244: cpuset is wanted but systemd is older than 244.
	CpusetNeedsSystemd244 ID = "cpuset-needs-systemd-244"
	// NestedSystemd: systemd's cgroup tree is not at the cgroup root (WSL
	// 2.9), where dockerd looks for it.
	NestedSystemd ID = "nested-systemd"
	// InvalidDelegate: a Delegate= line names a controller systemd rejects.
	InvalidDelegate ID = "invalid-delegate"
	// Unparsable: a file could not be parsed and was skipped.
	Unparsable ID = "unparsable"
	// Unreadable: a file could not be read and the answer may be incomplete.
	Unreadable ID = "unreadable"
)

// Finding is one condition [Detect] found, with the evidence and the fix.
// A *Finding is an error, so a caller can return it or join several with
// errors.Join; its Remedy method lets packages that do not import this
// one find the fix.
type Finding struct {
	ID       ID
	Severity Severity
	// Detail says what was observed and what it breaks, naming the file
	// (path or path:line) that shows it.
	Detail string
	// Fix is the exact command to run or file content to install; it may
	// span lines. Remedy returns it.
	Fix string
	// Err is the underlying error, if any; Unwrap returns it.
	Err error
}

// Error returns "cgroupdeleg: ID: Detail (fix: Fix)", with a multi-line
// Fix on lines of its own.
func (f *Finding) Error() string {
	s := "cgroupdeleg: " + string(f.ID) + ": " + f.Detail
	switch {
	case f.Fix == "":
	case strings.Contains(f.Fix, "\n"):
		s += "; fix:\n" + f.Fix
	default:
		s += " (fix: " + f.Fix + ")"
	}
	return s
}

// Remedy returns the fix: a command or file content.
func (f *Finding) Remedy() string { return f.Fix }

// Unwrap returns the underlying error, which may be nil.
func (f *Finding) Unwrap() error { return f.Err }
