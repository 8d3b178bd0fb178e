package rootless

import (
	"bytes"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
)

// procInfo is a process of the daemon's tree as /proc shows it.
type procInfo struct {
	PID, PPID int
	// State is /proc/PID/stat's state: R running, S sleeping, D disk sleep, T stopped (SIGSTOP),
	// t stopped by a tracer, Z zombie (exited, not yet reaped), X dead.
	State byte
	// Start is the start time in clock ticks after boot: with PID, the process's identity (a
	// recycled pid has a later start time).
	Start uint64
	Comm  string
	// Exit is a zombie's wait status (stat field 52, readable while nobody has reaped it); -1
	// for a live process or when the kernel does not say.
	Exit int
	Exe  string   // the resolved executable; "" when unreadable (zombies, other users)
	Args []string // the command line; nil for zombies
}

// stopped reports a process that a signal or a tracer has stopped: it runs no code.
func (p procInfo) stopped() bool { return p.State == 'T' || p.State == 't' }

// exited reports a process that has exited, reaped or not.
func (p procInfo) exited() bool { return p.State == 'Z' || p.State == 'X' }

var errStatFormat = errors.New("malformed /proc/PID/stat")

// parseStat reads the fields of a /proc/PID/stat line that procInfo holds. The command name
// is in parentheses and may itself contain spaces and parentheses: it ends at the last ')'.
func parseStat(b []byte) (procInfo, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procInfo{}, errStatFormat
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid <= 0 {
		return procInfo{}, errStatFormat
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state), f[1] field 4 (ppid), f[19] field 22 (starttime), f[49] field 52.
	if len(f) < 20 || len(f[0]) != 1 {
		return procInfo{}, errStatFormat
	}
	p := procInfo{PID: pid, State: f[0][0], Comm: string(b[open+1 : end]), Exit: -1}
	if p.PPID, err = strconv.Atoi(f[1]); err != nil || p.PPID < 0 {
		return procInfo{}, errStatFormat
	}
	if p.Start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return procInfo{}, errStatFormat
	}
	if p.exited() && len(f) >= 50 {
		if code, err := strconv.Atoi(f[49]); err == nil && code >= 0 && code <= 0xffff {
			p.Exit = code
		}
	}
	return p, nil
}

// exitString says how a wait status ended a process: "was killed by SIGKILL", "exited with
// status 1".
func exitString(status int) string {
	if sig := status & 0x7f; sig != 0 && sig != 0x7f {
		return "was killed by " + signalName(sig)
	}
	return "exited with status " + strconv.Itoa(status>>8&0xff)
}

// roleNamer names the processes of one plan's tree by what they do.
type roleNamer struct {
	root     int    // the engine process: the helper, or the rootlesskit binary
	rootExe  string // its executable, which RootlessKit's child runs too
	external bool   // the engine is an installed rootlesskit
	network  string // the network program's base name ("slirp4netns"); "" for none
	dockerd  string // dockerd's path, symbolic links resolved
}

func newRoleNamer(p *Plan, root int, rootExe string) roleNamer {
	n := roleNamer{root: root, rootExe: rootExe, external: p.Engine == EngineExternal, dockerd: p.Dockerd.Path}
	if d, err := filepath.EvalSymlinks(p.Dockerd.Path); err == nil {
		n.dockerd = d
	}
	if p.Network != nil {
		if prop := p.Network.Properties(); prop.Program != "" && !prop.InProcess {
			n.network = filepath.Base(prop.Program)
		}
	}
	return n
}

// role names p: "dockerd", "slirp4netns", "RootlessKit's child", "the engine helper", ...
func (n roleNamer) role(p procInfo) string {
	base := filepath.Base(p.Exe)
	switch {
	case p.PID == n.root && n.external:
		return "rootlesskit"
	case p.PID == n.root:
		return "the engine helper (RootlessKit's parent)"
	case p.PPID == n.root && p.Exe != "" && p.Exe == n.rootExe:
		return "RootlessKit's child"
	case p.Exe != "" && p.Exe == n.dockerd, len(p.Args) > 1 && p.Args[1] == n.dockerd: // or a wrapper script of it
		return "dockerd"
	case n.network != "" && (base == n.network || p.Comm == n.network):
		return n.network
	case strings.HasPrefix(base, "containerd-shim"):
		return "containerd-shim"
	case base == "containerd":
		return "containerd"
	case p.Exe != "":
		return base
	}
	return p.Comm
}
