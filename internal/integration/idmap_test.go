//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/internal/testbed"
)

// TestIDMapMatchesNewuidmap compares the maps idmap computes for this user with the ones the
// real newuidmap and newgidmap wrote, run by a real RootlessKit: embedded, and each stack's
// rootlesskit binary. It then checks the translation helpers against the kernel: a file that
// container uid 1000 creates is owned on the host by Map.ToHost(1000).
func TestIDMapMatchesNewuidmap(t *testing.T) {
	bed := testbed.Require(t)
	u, err := idmap.CurrentUser()
	if err != nil {
		t.Fatal(err)
	}
	s, err := idmap.Lookup(t.Context(), idmap.Auto{}, u)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	wantUID, wantGID, err := idmap.Maps(s)
	if err != nil {
		t.Fatal(err)
	}
	engines := map[string]string{"embedded": ""}
	for _, st := range bed.Stacks {
		engines["rootlesskit-"+st.Name] = st.Binary("rootlesskit")
	}
	for name, rk := range engines {
		t.Run(name, func(t *testing.T) {
			stack, _ := bed.Stack("current")
			dir := testbed.ScratchDir(t, bed, stack, bed.Self().Home)
			if err := os.Chmod(dir, 0o777); err != nil { // container uid 1000 writes here
				t.Fatal(err)
			}
			script := fmt.Sprintf("cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; touch %s/f && chown 1000:1000 %s/f", dir, dir)
			cfg := engine.Spec{PIDNS: true, Target: engine.Target{Argv: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}}}
			out, code := runEngineWith(t, bed, cfg, rk)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			parts := strings.Split(out, "--\n")
			if len(parts) < 2 {
				t.Fatalf("unexpected output:\n%s", out)
			}
			gotUID, err := idmap.ParseMap("uid_map", strings.NewReader(lastMapLines(parts[0])))
			if err != nil {
				t.Fatal(err)
			}
			gotGID, err := idmap.ParseMap("gid_map", strings.NewReader(lastMapLines(parts[1])))
			if err != nil {
				t.Fatal(err)
			}
			if gotUID.String() != wantUID.String() || gotGID.String() != wantGID.String() {
				t.Fatalf("maps differ\nuid: idmap %q, kernel %q\ngid: idmap %q, kernel %q", wantUID, gotUID, wantGID, gotGID)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(dir, "f"), &st); err != nil {
				t.Fatal(err)
			}
			hostUID, ok := wantUID.ToHost(1000)
			if !ok || st.Uid != hostUID {
				t.Fatalf("file of container uid 1000 is host uid %d; ToHost(1000) = %d, %v", st.Uid, hostUID, ok)
			}
			if back, ok := wantUID.ToContainer(st.Uid); !ok || back != 1000 {
				t.Fatalf("ToContainer(%d) = %d, %v; want 1000", st.Uid, back, ok)
			}
		})
	}
}

// lastMapLines keeps the lines of a /proc map (RootlessKit may log before the target prints).
func lastMapLines(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) == 3 && !strings.Contains(l, "=") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n") + "\n"
}
