package setup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/rootless"
)

// IDNotRunning is the finding of Enter when no daemon runs for the state directory.
const IDNotRunning diag.ID = "setup.not-running"

// RootlessKitStateDir is the RootlessKit state directory of the daemon that the launcher (and
// dockerd-rootless.sh) runs for u: $DOCKERD_ROOTLESS_ROOTLESSKIT_STATE_DIR, else
// $XDG_RUNTIME_DIR/dockerd-rootless, else /run/user/UID/dockerd-rootless. Docker's
// `setuptool nsenter` ignores the variable; this does not.
func RootlessKitStateDir(u User) string {
	if v := u.getenv(rootless.EnvScriptStateDir); filepath.IsAbs(v) {
		return filepath.Clean(v)
	}
	if v := u.getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(v) {
		return filepath.Join(v, "dockerd-rootless")
	}
	return filepath.Join("/run/user", strconv.Itoa(u.UID), "dockerd-rootless")
}

// Enter returns a command that runs argv inside the namespaces of the daemon whose RootlessKit
// state directory is stateDir, as root of its user namespace, like
// `dockerd-rootless-setuptool.sh nsenter`: the user, mount and PID namespaces, and the network
// namespace of the containers (with a detached network namespace, the detached one, where the
// addresses `docker inspect` shows are reachable; Docker's tool stays in the host's). Like
// nerdctl, it sets ROOTLESSKIT_STATE_DIR, ROOTLESSKIT_PARENT_EUID and ROOTLESSKIT_PARENT_EGID.
// It needs nsenter (util-linux). It returns a finding IDNotRunning when no daemon runs there.
func Enter(ctx context.Context, stateDir string, argv ...string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, errors.New("setup: Enter: no command")
	}
	b, err := os.ReadFile(filepath.Join(stateDir, "child_pid"))
	if err != nil {
		return nil, &diag.Finding{ID: IDNotRunning, Severity: diag.Error, Evidence: filepath.Join(stateDir, "child_pid"),
			Detail: "no rootless daemon runs with RootlessKit state directory " + stateDir, Err: err,
			Fix: "start it (systemctl --user start docker.service), or name its state directory (DOCKERD_ROOTLESS_ROOTLESSKIT_STATE_DIR)"}
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("setup: %s: %q is not a pid", filepath.Join(stateDir, "child_pid"), b)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err != nil {
		return nil, &diag.Finding{ID: IDNotRunning, Severity: diag.Error, Evidence: fmt.Sprintf("child_pid %d", pid),
			Detail: fmt.Sprintf("the daemon of %s is gone (its namespaces' init, pid %d, does not exist)", stateDir, pid), Err: err,
			Fix: "start the daemon again"}
	}
	ps := strconv.Itoa(pid)
	wd, _ := os.Getwd()
	// The PID namespace too: the mount namespace's /proc belongs to it, and /proc/self resolves
	// only for its processes (nsenter forks once to enter it).
	args := []string{"--user", "--preserve-credentials", "--mount", "--pid", "--target", ps}
	if wd != "" {
		args = append(args, "--wd="+wd)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "netns")); err == nil {
		// Bound inside the child's mount namespace; reached through its root.
		args = append(args, "--net=/proc/"+ps+"/root"+filepath.Join(stateDir, "netns"))
	} else {
		args = append(args, "--net")
	}
	cmd := exec.CommandContext(ctx, "nsenter", append(append(args, "--"), argv...)...)
	cmd.Env = append(os.Environ(),
		"ROOTLESSKIT_STATE_DIR="+stateDir,
		"ROOTLESSKIT_PARENT_EUID="+strconv.Itoa(os.Geteuid()),
		"ROOTLESSKIT_PARENT_EGID="+strconv.Itoa(os.Getegid()))
	return cmd, nil
}
