//go:build linux

package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestProcStat: the watch reads the parent and state of a live process (the parser itself is
// internal/proc's, tested there).
func TestProcStat(t *testing.T) {
	if ppid, state, ok := procStat(os.Getpid()); !ok || ppid != os.Getppid() || state == 'Z' {
		t.Errorf("procStat(self) = %d, %q, %v; want %d", ppid, state, ok, os.Getppid())
	}
	if _, _, ok := procStat(-1); ok {
		t.Error("procStat(-1) succeeded")
	}
}

// TestReexecChild: the child named "exe" is found among the children, and no other is taken for
// it (RootlessKit 1.1's parent starts newuidmap and slirp4netns too).
func TestReexecChild(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program")
	}
	start := func(name string) *exec.Cmd {
		b, err := os.ReadFile(sleep)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(p, "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	start("slirp4netns")
	if pid := reexecChild(os.Getpid()); pid != 0 {
		t.Fatalf("reexecChild found %d among children without an exe", pid)
	}
	exe := start("exe")
	if pid := reexecChild(os.Getpid()); pid != exe.Process.Pid {
		t.Fatalf("reexecChild = %d; want %d", pid, exe.Process.Pid)
	}
	if pid := reexecChild(0); pid != 0 {
		t.Fatalf("reexecChild(0) = %d", pid)
	}
}
