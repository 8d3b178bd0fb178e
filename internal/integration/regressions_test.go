//go:build integration

package integration

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// TestLauncherPrintsEachLineOnce (regression, issue 14): examples/launcher printed every
// daemon line twice on stderr, raw and re-emitted by its logger.
func TestLauncherPrintsEachLineOnce(t *testing.T) {
	bed := testbed.Require(t)
	bin := example(t, "launcher")
	stack, _ := bed.Stack("current")
	u := bed.Self()
	xdg := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
	cmd := exec.Command(bin, "--data-root", testbed.ScratchDir(t, bed, stack, u.Home))
	cmd.Env = []string{"HOME=" + u.Home, "USER=" + u.Name, "XDG_RUNTIME_DIR=" + xdg, "PATH=" + stack.Path()}
	var log testbed.LockedBuffer
	cmd.Stderr = &log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("no DOCKER_HOST line: %v\n%s", err, log.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
	case <-time.After(time.Minute):
		t.Fatal("the launcher did not stop within a minute of SIGTERM")
	}
	text := log.String()
	if n := strings.Count(text, "API listen on "+xdg+"/docker.sock"); n != 1 {
		t.Errorf("dockerd's \"API listen on\" line is on stderr %d times, want once:\n%s", n, text)
	}
	if strings.Contains(text, "component=dockerd") {
		t.Errorf("the launcher's logger re-emitted the daemon's lines:\n%s", text)
	}
	if !strings.Contains(text, `msg="daemon ready"`) {
		t.Errorf("the launcher's own events are gone too:\n%s", text)
	}
}
