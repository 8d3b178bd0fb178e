//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/internal/testbed"
)

// runEngine runs argv inside the embedded engine's namespaces and returns what it printed.
func runEngine(t *testing.T, bed *testbed.Bed, spec engine.Spec) (string, int) {
	return runEngineWith(t, bed, spec, "")
}

// runEngineWith runs argv inside the namespaces of the embedded engine, or of the rootlesskit
// binary rk, and returns what it printed and its exit status.
func runEngineWith(t *testing.T, bed *testbed.Bed, spec engine.Spec, rk string) (string, int) {
	t.Helper()
	stack, _ := bed.Stack("current")
	dir := testbed.ScratchDir(t, bed, stack, bed.Self().RuntimeDir)
	spec.StateDir = filepath.Join(dir, "rk")
	var out testbed.LockedBuffer
	so := engine.StartOptions{SpecDir: dir, Env: []string{"PATH=" + testbed.SystemPath}, Output: &out}
	if rk != "" {
		so.RootlessKit, so.Version = rk, versionOf(t, rk)
	}
	p, err := engine.Start(&spec, so)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(time.Minute):
		p.Kill()
		<-p.Done()
		t.Fatalf("engine did not exit within a minute; output:\n%s", out.String())
	}
	// Done says the helper was reaped, not that its output was read: the last lines may still
	// be in the pipe (a run saw the target's exit status without its output).
	select {
	case <-p.OutputCopied():
	case <-time.After(10 * time.Second):
		t.Errorf("the engine's output pipe stayed open 10 s after it exited (a process of the tree kept it)")
	}
	return out.String(), p.ExitCode()
}

func TestEngineUserNamespace(t *testing.T) {
	bed := testbed.Require(t)
	u := bed.Self()
	out, code := runEngine(t, bed, engine.Spec{
		PIDNS: true, CopyUp: []string{"/etc", "/run"}, Propagation: "rslave",
		Target: engine.Target{Argv: []string{"/bin/sh", "-c", "echo uid=$(id -u); cat /proc/self/uid_map; echo pidns=$(readlink /proc/self/ns/pid); exit 3"}, Env: []string{"PATH=" + testbed.SystemPath}},
	})
	if code != 3 {
		t.Fatalf("exit code %d, want the target's 3; output:\n%s", code, out)
	}
	if !strings.Contains(out, "uid=0\n") {
		t.Errorf("id -u inside the namespace: want 0; output:\n%s", out)
	}
	if !strings.Contains(out, fmt.Sprintf(" 0 %10d          1\n", u.UID)) {
		t.Errorf("uid_map lacks the own uid %d mapped to 0; output:\n%s", u.UID, out)
	}
	hostNS, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "pidns=pid:[") || strings.Contains(out, "pidns="+hostNS) {
		t.Errorf("target is not in a new PID namespace (host: %s); output:\n%s", hostNS, out)
	}
	testbed.AssertNoProcesses(t, 10*time.Second)
}
