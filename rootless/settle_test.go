package rootless

import (
	"path/filepath"
	"testing"
	"time"
)

// TestSettled: a relaunch right after a SIGKILL of the host program meets the killed tree still
// holding the socket and the data root; Resolve waits for it to go instead of calling it
// another daemon, unless a live daemon of ours holds the state directory's lock.
func TestSettled(t *testing.T) {
	p := &Plan{}
	p.Paths.StateDir = "/run/user/1000/rootlessd"
	lockPath := filepath.Join(p.Paths.StateDir, lockFile)
	countdown := func(n int) func() bool { return func() bool { n--; return n >= 0 } }
	for _, tt := range []struct {
		name  string
		h     host
		busy  func() bool
		want  bool
		asked string // the lock file the host is asked about; "" for none
	}{
		{"free", host{settle: time.Second, locked: func(string) bool { return false }}, countdown(0), false, ""},
		{"a dying tree goes", host{settle: 5 * time.Second, locked: func(string) bool { return false }}, countdown(3), false, lockPath},
		{"a foreign daemon stays", host{settle: 200 * time.Millisecond, locked: func(string) bool { return false }}, func() bool { return true }, true, lockPath},
		{"a live daemon of ours: at once", host{settle: time.Hour, locked: func(string) bool { return true }}, countdown(2), true, lockPath},
		{"a fixture host looks once", host{}, countdown(2), true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			asked := ""
			if tt.h.locked != nil {
				locked := tt.h.locked
				tt.h.locked = func(p string) bool { asked = p; return locked(p) }
			}
			if got := settled(&tt.h, p, tt.busy); got != tt.want {
				t.Errorf("settled = %v, want %v", got, tt.want)
			}
			if asked != tt.asked {
				t.Errorf("asked about lock %q, want %q", asked, tt.asked)
			}
		})
	}
}
