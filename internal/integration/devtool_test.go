//go:build integration

package integration

import (
	"bufio"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
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
	if out, err := exec.CommandContext(t.Context(), stack.Binary("docker"), "-H", host, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
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

	// serve: the socket first, the daemon on the first connection, all gone on SIGTERM.
	serve := exec.Command(bin, "-C", proj, "-path", stack.Bin, "-idle", "1m", "serve")
	serve.Env = []string{"HOME=" + u.Home, "USER=" + u.Name, "XDG_RUNTIME_DIR=" + xdg, "XDG_DATA_HOME=" + dataHome, "PATH=" + testbed.SystemPath}
	var serveErr testbed.LockedBuffer
	serve.Stderr = &serveErr
	sout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = serve.Process.Kill(); _ = serve.Wait() }()
	line, err := bufio.NewReader(sout).ReadString('\n')
	served, ok := strings.CutPrefix(strings.TrimSpace(line), "DOCKER_HOST=")
	if err != nil || !ok {
		t.Fatalf("serve printed %q (%v); stderr:\n%s", line, err, serveErr.String())
	}
	if out, err := exec.CommandContext(t.Context(), stack.Binary("docker"), "-H", served, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Fatalf("docker version on serve's cold socket: %v: %s", err, out)
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, serveErr.String())
	}
	testbed.AssertNoProcesses(t, 10*time.Second)
}
