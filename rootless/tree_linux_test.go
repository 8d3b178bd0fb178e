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
		if pr, _ := readProc(stopped); pr.Stopped() {
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

// TestTreeExit (regression, issue 14): a killed dockerd was reported as "status 255" of
// /proc/self/exe; RootlessKit's lines (the same in 1.1.0, 3.3.0 and the embedded engine) say
// which process ended and how.
func TestTreeExit(t *testing.T) {
	for _, tt := range []struct {
		lines   []string
		process string
		status  int
	}{
		{[]string{`level=info msg="API listen on /run/user/2006/x/docker.sock"`,
			"[rootlesskit:child ] error: command [/proc/self/exe] exited: signal: killed",
			"[rootlesskit:parent] error: child exited: exit status 255"}, "dockerd", 9},
		{[]string{"[rootlesskit:child ] error: command [/opt/app/host --flag] exited: signal: terminated",
			"[rootlesskit:parent] error: child exited: exit status 255"}, "dockerd", 15},
		{[]string{"failed to start daemon: x", "[rootlesskit:child ] error: command [/proc/self/exe] exited: exit status 1",
			"[rootlesskit:parent] error: child exited: exit status 1"}, "dockerd", 1 << 8},
		{[]string{"[rootlesskit:parent] error: child exited: signal: killed"}, "RootlessKit's child", 9},
		{[]string{"[rootlesskit:parent] error: child exited: exit status 3"}, "RootlessKit's child", 3 << 8},
	} {
		process, status, ok := treeExit(tt.lines)
		if !ok || process != tt.process || status != tt.status {
			t.Errorf("treeExit(%q) = %q, %#x, %v; want %q, %#x", tt.lines, process, status, ok, tt.process, tt.status)
		}
	}
	for _, lines := range [][]string{nil, {"level=info msg=x"}, {"[rootlesskit:parent] error: child exited: signal: nonsense"}} {
		if p, s, ok := treeExit(lines); ok {
			t.Errorf("treeExit(%q) = %q, %d, want nothing", lines, p, s)
		}
	}
}

func TestExitErrorNamesTheProcess(t *testing.T) {
	for _, tt := range []struct {
		e    ExitError
		want string
	}{
		{ExitError{Process: "dockerd", Signal: syscall.SIGKILL, Code: 137}, "rootless: daemon exited unexpectedly: dockerd was killed by SIGKILL"},
		{ExitError{Process: "dockerd", Code: 1}, "rootless: daemon exited unexpectedly: dockerd exited with status 1"},
		{ExitError{Code: 255}, "rootless: daemon exited unexpectedly with status 255"},
		{ExitError{Process: "slirp4netns", Signal: syscall.SIGKILL, Err: &HealthError{Check: CheckProcess, Process: "slirp4netns", PID: 42, Detail: "was killed by SIGKILL", Status: 9}},
			"rootless: the watchdog stopped the daemon: health: process: slirp4netns (pid 42) was killed by SIGKILL"},
	} {
		if got := tt.e.Error(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("Error() = %q\nwant %q", got, tt.want)
		}
	}
}
