//go:build linux

package rootless

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/netdriver"
)

// TestHangNamesTheStoppedProcess runs a real tree (sh, and two sleeps below it), stops one of
// the sleeps, and expects the start-up timeout's report to name it.
func TestHangNamesTheStoppedProcess(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 60 & sleep 60 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }()
	var tree []procInfo
	for deadline := time.Now().Add(10 * time.Second); len(tree) < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		tree = descendants(cmd.Process.Pid)
	}
	if len(tree) != 3 || tree[0].PID != cmd.Process.Pid || tree[1].PPID != cmd.Process.Pid {
		t.Fatalf("descendants = %+v, want sh and its two sleeps", tree)
	}
	p := &Plan{Dockerd: Dockerd{Path: "/usr/bin/dockerd"}, Network: netdriver.Slirp4netns{}, Paths: Paths{Socket: "/run/x/docker.sock", RootlessKitStateDir: "/run/x/rk"}}
	if what, _, _ := hang(StageDockerd, p, cmd.Process.Pid); what != "dockerd did not start, and nothing answered GET /_ping on /run/x/docker.sock" {
		t.Errorf("nothing stopped: %q", what)
	}
	if what, _, _ := hang(StageNamespaces, p, cmd.Process.Pid); !strings.HasPrefix(what, "RootlessKit did not finish setting up the namespaces (child_pid never appeared in /run/x/rk)") {
		t.Errorf("nothing stopped, namespaces: %q", what)
	}
	stopped := tree[2].PID
	if err := syscall.Kill(stopped, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if pr, _ := readProc(stopped); pr.stopped() {
			break
		}
	}
	what, cause, fix := hang(StageDockerd, p, cmd.Process.Pid)
	want := "sleep (pid " + strconv.Itoa(stopped) + ") is stopped and never answered"
	if what != want || !strings.Contains(cause, "was stopped (state T") || !strings.Contains(fix, "kill -CONT") {
		t.Errorf("hang = %q / %q / %q\nwant %q", what, cause, fix, want)
	}
}

func TestExitString(t *testing.T) {
	for status, want := range map[int]string{0: "exited with status 0", 256: "exited with status 1", 9: "was killed by SIGKILL",
		15: "was killed by SIGTERM", 137 << 8: "exited with status 137", 0x80 | 6: "was killed by SIGABRT"} {
		if got := exitString(status); got != want {
			t.Errorf("exitString(%#x) = %q, want %q", status, got, want)
		}
	}
}
