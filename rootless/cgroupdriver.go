package rootless

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
)

// systemdCgroupDriver reports whether dockerd will use the systemd cgroup driver, by moby's rule
// (UsingSystemd): native.cgroupdriver=systemd in its exec-opts, or no cgroup driver set on a
// cgroup v2 host whose init is systemd.
//
// It matters for the PID namespace: runc's systemd driver asks the user's systemd to move each
// container's init into a scope by its PID as runc sees it. Inside a PID namespace of the daemon's
// own, systemd gets a PID of another namespace and refuses ("unable to start unit
// docker-ID.scope ... Permission denied"), so every container fails to start. Debian's
// dockerd-rootless.sh fails the same way with DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS=--pidns.
func systemdCgroupDriver(args []string, daemonJSON string) bool {
	switch cgroupDriverOpt(args, daemonJSON) {
	case "systemd":
		return true
	case "":
		mode, err := cgroupdeleg.DetectMode(cgroupdeleg.Host())
		st, serr := os.Stat("/run/systemd/system")
		return err == nil && mode == cgroupdeleg.Unified && serr == nil && st.IsDir()
	}
	return false
}

// cgroupDriverOpt is the value of native.cgroupdriver in dockerd's exec-opts: on its command
// line (--exec-opt native.cgroupdriver=X, the last wins) or else in its daemon.json; "" if unset.
func cgroupDriverOpt(args []string, daemonJSON string) string {
	const key = "native.cgroupdriver="
	drv := ""
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "--exec-opt=")
		if !ok && a == "--exec-opt" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if d, found := strings.CutPrefix(strings.TrimSpace(v), key); ok && found {
			drv = strings.TrimSpace(d)
		}
	}
	if drv != "" || daemonJSON == "" {
		return drv
	}
	var cfg struct {
		ExecOpts []string `json:"exec-opts"`
	}
	if b, err := os.ReadFile(daemonJSON); err == nil && json.Unmarshal(b, &cfg) == nil {
		for _, o := range cfg.ExecOpts {
			if d, found := strings.CutPrefix(strings.TrimSpace(o), key); found {
				drv = strings.TrimSpace(d)
			}
		}
	}
	return drv
}
