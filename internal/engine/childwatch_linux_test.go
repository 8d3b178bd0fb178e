//go:build linux

package engine

import (
	"os"
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
