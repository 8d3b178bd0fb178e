package rootless

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/internal/proc"
)

// procInfo is a process of the daemon's tree as /proc shows it.
type procInfo struct {
	proc.Stat
	Exe  string   // the resolved executable; "" when unreadable (zombies, other users)
	Args []string // the command line; nil for zombies
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
