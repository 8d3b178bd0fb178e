//go:build linux

package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestParseStat(t *testing.T) {
	for _, tt := range []struct {
		stat  string
		ppid  int
		state byte
		ok    bool
	}{
		{"4242 (exe) Z 4200 4200 4100 0 -1 4194564 0 0", 4200, 'Z', true},
		{"7 (a (b) c) S 1 7 7 0", 1, 'S', true}, // a command name with spaces and parentheses
		{"7 (x) S", 0, 0, false},
		{"7 x S 1", 0, 0, false},
		{"7 (x) SS 1", 0, 0, false},
		{"", 0, 0, false},
	} {
		ppid, state, ok := parseStat([]byte(tt.stat))
		if ppid != tt.ppid || state != tt.state || ok != tt.ok {
			t.Errorf("parseStat(%q) = %d, %q, %v; want %d, %q, %v", tt.stat, ppid, state, ok, tt.ppid, tt.state, tt.ok)
		}
	}
	if ppid, _, ok := procStat(os.Getpid()); !ok || ppid != os.Getppid() {
		t.Errorf("procStat(self) = %d, %v; want %d", ppid, ok, os.Getppid())
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
