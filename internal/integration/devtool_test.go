//go:build integration

package integration

import (
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// TestDevtool runs examples/devtool as a dev tool would: one daemon per project directory,
// started on demand by `env` and found again by later runs (the tool exits in between), with
// status, logs and stop; stop leaves nothing.
func TestDevtool(t *testing.T) {
	bed := testbed.Require(t)
	bin := example(t, "devtool")
	stack, _ := bed.Stack("current")
	u := bed.Self()
	xdg := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
	dataHome := testbed.ScratchDir(t, bed, stack, u.Home)
	proj := testbed.ScratchDir(t, bed, stack, u.Home)
	devtool := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-C", proj, "-path", stack.Bin}, args...)...)
		cmd.Env = []string{"HOME=" + u.Home, "USER=" + u.Name, "XDG_RUNTIME_DIR=" + xdg, "XDG_DATA_HOME=" + dataHome, "PATH=" + testbed.SystemPath}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("devtool %v: %v", args, err)
		}
		return string(out), code
	}
	t.Cleanup(func() { devtool("stop") })

	if out, code := devtool("status"); code != 3 || !strings.Contains(out, "not running") {
		t.Fatalf("status before anything: exit %d: %s", code, out)
	}
	out, code := devtool("env")
	if code != 0 || !strings.Contains(out, "started the daemon") {
		t.Fatalf("env (cold): exit %d: %s", code, out)
	}
	m := regexp.MustCompile(`export DOCKER_HOST='(unix://[^']+)'`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("env printed no DOCKER_HOST:\n%s", out)
	}
	host := m[1]
	if !strings.HasPrefix(host, "unix://"+xdg+"/rootlessd-dev/") {
		t.Errorf("DOCKER_HOST %s is not in the project's state dir under %s", host, xdg)
	}
	// devtool has exited; the daemon runs on and answers.
	if out, err := exec.CommandContext(t.Context(), "docker", "-H", host, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Fatalf("docker version after devtool exited: %v: %s", err, out)
	}
	if out, code := devtool("env"); code != 0 || strings.Contains(out, "started") || !strings.Contains(out, host) {
		t.Errorf("env (warm) must attach, not start: exit %d: %s", code, out)
	}
	if out, code := devtool("status"); code != 0 || !strings.Contains(out, "running") || !strings.Contains(out, host) {
		t.Errorf("status: exit %d: %s", code, out)
	}
	if out, code := devtool("logs"); code != 0 || !strings.Contains(out, "API listen on") {
		t.Errorf("logs: exit %d, no dockerd output:\n%.2000s", code, out)
	}
	if out, code := devtool("stop"); code != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("stop: exit %d: %s", code, out)
	}
	testbed.AssertNoProcesses(t, 10*time.Second)
	if out, code := devtool("status"); code != 3 {
		t.Errorf("status after stop: exit %d: %s", code, out)
	}
}
