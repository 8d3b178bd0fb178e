//go:build guest

package guest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless/setup"
)

// The systemd user service of package rootless/setup, run by the guest's real systemd: one boot
// installs, starts, uses, restarts and stops it and leaves it enabled (TestServiceLifecycle);
// the next boot of the same disk shows that linger brings the daemon up by itself, and removes
// it (TestServiceAfterReboot).

// launcherPath is examples/launcher in the guest: the host puts it in the share's bin/, which
// the guest's runner copies next to the test binaries.
const launcherPath = "/usr/local/libexec/rootlessd-guest/launcher"

const serviceUnit = "docker.service"

// systemctlUser runs systemctl --user with args and returns its trimmed output and error.
func systemctlUser(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "systemctl", append([]string{"--user"}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// dockerCLI runs the real docker CLI against host and fails t if it fails.
func dockerCLI(t *testing.T, host string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("DOCKER_HOST=%s docker %s: %v\n%s", host, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// mainPID is the service's main process, 0 when it has none.
func mainPID(t *testing.T) string {
	t.Helper()
	out, err := systemctlUser(t, "show", "--value", "-p", "MainPID", serviceUnit)
	if err != nil {
		t.Fatalf("systemctl --user show %s: %v\n%s", serviceUnit, err, out)
	}
	return out
}

// requireActive fails t unless the service is active (waiting while it is activating, which
// ends when the launcher says READY=1, once the API answers).
func requireActive(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		state, _ := systemctlUser(t, "is-active", serviceUnit)
		switch {
		case state == "active":
			return
		case state != "activating" && state != "inactive" || time.Now().After(deadline):
			status, _ := systemctlUser(t, "status", "--no-pager", "-n", "40", serviceUnit)
			t.Fatalf("%s is %q:\n%s", serviceUnit, state, status)
		}
		time.Sleep(time.Second)
	}
}

// requireNoDaemon fails t if the service's cgroup still has a process, or any of the daemon's
// programs runs as this user.
func requireNoDaemon(t *testing.T) {
	t.Helper()
	cg, _ := systemctlUser(t, "show", "--value", "-p", "ControlGroup", serviceUnit)
	if cg != "" {
		if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", cg, "cgroup.procs")); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			t.Errorf("%s is stopped, but its cgroup %s still has processes: %s", serviceUnit, cg, strings.Fields(string(b)))
		}
	}
	daemon := []string{"launcher", "dockerd", "containerd", "containerd-shim-runc-v2", "rootlesskit", "slirp4netns"}
	for _, p := range testbed.ProcessesOf(os.Getuid()) {
		if f := strings.Fields(p.Cmdline); len(f) > 0 && slices.Contains(daemon, filepath.Base(f[0])) {
			t.Errorf("left behind after the service stopped: %d %s", p.PID, p.Cmdline)
		}
	}
}

// TestServiceLifecycle installs the daemon as the user's systemd service with package
// rootless/setup and examples/launcher, checks the unit with systemd-analyze verify, and then,
// through the real systemctl and docker CLI: the service is active once start returns, docker
// run works through the unit's socket, a restart keeps the loaded image, and stop leaves no
// process. The service stays enabled for the next boot (TestServiceAfterReboot).
func TestServiceLifecycle(t *testing.T) {
	bed := testbed.RequireGuest(t)
	if _, err := os.Stat(launcherPath); err != nil {
		t.Fatalf("the launcher is not in the guest: %v (the host puts examples/launcher in the share's bin/)", err)
	}
	p, err := setup.Install(t.Context(), setup.WithLauncher(launcherPath), setup.WithSystemd(true))
	if err != nil {
		t.Fatalf("setup.Install: %v", err)
	}
	t.Logf("install plan:\n%s", p)
	host := ""
	for _, kv := range p.Env {
		if v, ok := strings.CutPrefix(kv, "DOCKER_HOST="); ok {
			host = v
		}
	}
	if host == "" {
		t.Fatalf("the plan exports no DOCKER_HOST: %q", p.Env)
	}
	for _, n := range p.Notes {
		t.Logf("note (%s): %s", n.Severity, n.Text)
		if strings.Contains(n.Text, "enable-linger") {
			t.Errorf("the guest's user has linger, but Install says: %s", n.Text)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("journalctl", "--user", "--no-pager", "-n", "80", "-u", serviceUnit).CombinedOutput()
			t.Logf("journal of %s:\n%s", serviceUnit, out)
		}
	})
	start := time.Now()
	if err := p.Apply(t.Context(), nil); err != nil {
		status, _ := systemctlUser(t, "status", "--no-pager", "-n", "60", serviceUnit)
		t.Fatalf("Apply: %v\n%s", err, status)
	}
	t.Logf("installed and started in %v", time.Since(start).Round(time.Millisecond))

	home, _ := os.UserHomeDir()
	unit := filepath.Join(home, ".config/systemd/user", serviceUnit)
	if out, err := exec.CommandContext(t.Context(), "systemd-analyze", "--user", "verify", "--man=no", unit).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze --user verify %s: %v\n%s", unit, err, out)
	}
	if state, _ := systemctlUser(t, "is-enabled", serviceUnit); state != "enabled" {
		t.Errorf("%s is %q after install, want enabled", serviceUnit, state)
	}
	// Type=notify: start returned, so the API answers already.
	requireActive(t, 0)
	first := mainPID(t)

	if out := dockerCLI(t, host, "load", "-i", bed.Image); !strings.Contains(out, bed.ImageTag) {
		t.Fatalf("docker load: %s", out)
	}
	if out := dockerCLI(t, host, "run", "--rm", bed.ImageTag, "echo", "hello from the unit"); out != "hello from the unit" {
		t.Errorf("docker run through %s: %q", host, out)
	}
	if info := dockerCLI(t, host, "info", "--format", "{{.CgroupDriver}} {{.SecurityOptions}}"); !strings.HasPrefix(info, "systemd ") || !strings.Contains(info, "rootless") {
		t.Errorf("docker info through the unit's socket: %q; want the systemd cgroup driver, rootless", info)
	}

	start = time.Now()
	if out, err := systemctlUser(t, "restart", serviceUnit); err != nil {
		t.Fatalf("systemctl --user restart: %v\n%s", err, out)
	}
	t.Logf("restarted in %v", time.Since(start).Round(time.Millisecond))
	requireActive(t, 0)
	if second := mainPID(t); second == first || second == "0" {
		t.Errorf("main PID %s before the restart and %s after it: no new launcher", first, second)
	}
	if id := dockerCLI(t, host, "image", "inspect", "--format", "{{.Id}}", bed.ImageTag); id == "" {
		t.Errorf("the image did not survive the restart")
	}
	if out := dockerCLI(t, host, "run", "--rm", bed.ImageTag, "echo", "after the restart"); out != "after the restart" {
		t.Errorf("docker run after the restart: %q", out)
	}

	if out, err := systemctlUser(t, "stop", serviceUnit); err != nil {
		t.Fatalf("systemctl --user stop: %v\n%s", err, out)
	}
	if state, _ := systemctlUser(t, "is-active", serviceUnit); state != "inactive" {
		t.Errorf("%s is %q after stop, want inactive", serviceUnit, state)
	}
	requireNoDaemon(t)
}

// TestServiceAfterReboot runs on the next boot of the same disk: with linger, the user's
// manager starts at boot and with it the enabled service, without anyone logging in or
// starting it. The image loaded before the reboot is still there. Then setup.Uninstall stops,
// disables and removes it, and no process is left.
func TestServiceAfterReboot(t *testing.T) {
	bed := testbed.RequireGuest(t)
	home, _ := os.UserHomeDir()
	unit := filepath.Join(home, ".config/systemd/user", serviceUnit)
	if _, err := os.Stat(unit); err != nil {
		t.Fatalf("no unit from the boot before (TestServiceLifecycle): %v", err)
	}
	if _, err := os.Stat("/var/lib/systemd/linger/" + bed.Self().Name); err != nil {
		t.Fatalf("the user has no linger: %v", err)
	}
	requireActive(t, 10*time.Minute) // started by the manager at boot; under TCG that takes a while
	out, _ := systemctlUser(t, "show", "-p", "ActiveEnterTimestamp", "-p", "NRestarts", serviceUnit)
	t.Logf("%s after the reboot: %s", serviceUnit, strings.ReplaceAll(out, "\n", ", "))
	host := fmt.Sprintf("unix://%s/docker.sock", os.Getenv("XDG_RUNTIME_DIR"))
	if id := dockerCLI(t, host, "image", "inspect", "--format", "{{.Id}}", bed.ImageTag); id == "" {
		t.Errorf("the image loaded before the reboot is gone")
	}
	if out := dockerCLI(t, host, "run", "--rm", bed.ImageTag, "echo", "after the reboot"); out != "after the reboot" {
		t.Errorf("docker run after the reboot: %q", out)
	}

	p, err := setup.Uninstall(t.Context(), setup.WithSystemd(true))
	if err != nil {
		t.Fatalf("setup.Uninstall: %v", err)
	}
	t.Logf("uninstall plan:\n%s", p)
	if err := p.Apply(t.Context(), nil); err != nil {
		t.Fatalf("Uninstall's Apply: %v", err)
	}
	if _, err := os.Stat(unit); err == nil {
		t.Errorf("%s still exists after Uninstall", unit)
	}
	if state, _ := systemctlUser(t, "is-active", serviceUnit); state == "active" || state == "activating" {
		t.Errorf("%s is %q after Uninstall", serviceUnit, state)
	}
	requireNoDaemon(t)
}
