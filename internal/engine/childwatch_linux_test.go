//go:build linux

package engine

import (
	"os"
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
