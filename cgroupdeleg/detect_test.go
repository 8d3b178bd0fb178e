package cgroupdeleg_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixture opens testdata/hosts/name.
func fixture(t *testing.T, name string) *cgroupdeleg.Sys {
	t.Helper()
	sys, err := cgroupdeleg.Fixture(os.DirFS(filepath.Join("testdata", "hosts", name)))
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

func detect(t *testing.T, sys *cgroupdeleg.Sys, uid int, wanted ...string) *cgroupdeleg.Report {
	t.Helper()
	r, err := cgroupdeleg.Detect(context.Background(), sys, uid, wanted...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("report differs from %s (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", p, got, want)
	}
}

func ids(r *cgroupdeleg.Report) []cgroupdeleg.ID {
	var out []cgroupdeleg.ID
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return out
}

// TestDetectHosts runs Detect on every fixture host, checks the facts
// that matter for each, and compares the whole report with its golden file.
func TestDetectHosts(t *testing.T) {
	for _, tt := range []struct {
		host      string
		uid       int
		mode      cgroupdeleg.Mode
		delegated []string
		missing   []string
		ids       []cgroupdeleg.ID // exactly these findings, in order
		hasErr    bool
	}{
		{host: "delegated", uid: 1000, mode: cgroupdeleg.Unified,
			delegated: []string{"cpu", "cpuset", "io", "memory", "pids"}},
		{host: "systemd-default", uid: 1000, mode: cgroupdeleg.Unified,
			delegated: []string{"memory", "pids"}, missing: []string{"cpu", "cpuset", "io"},
			ids: []cgroupdeleg.ID{cgroupdeleg.NotDelegated, cgroupdeleg.NoLinger}},
		{host: "hybrid", uid: 1000, mode: cgroupdeleg.Hybrid,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []cgroupdeleg.ID{cgroupdeleg.CgroupHybrid, cgroupdeleg.NoSystemd}},
		{host: "openrc", uid: 1000, mode: cgroupdeleg.Unified,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []cgroupdeleg.ID{cgroupdeleg.NoSystemd}},
		{host: "wsl", uid: 1000, mode: cgroupdeleg.Unified,
			delegated: []string{"cpu", "memory", "pids"}, missing: []string{"cpuset", "io"},
			ids:    []cgroupdeleg.ID{cgroupdeleg.NestedSystemd, cgroupdeleg.NotDelegated},
			hasErr: true},
		{host: "not-owned", uid: 1000, mode: cgroupdeleg.Unified,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []cgroupdeleg.ID{cgroupdeleg.NotOwned}},
		{host: "old-systemd", uid: 1000, mode: cgroupdeleg.Unified,
			delegated: []string{"memory", "pids"}, missing: []string{"cpu", "cpuset", "io"},
			ids: []cgroupdeleg.ID{cgroupdeleg.NoUserBus, cgroupdeleg.CpusetNeedsSystemd244,
				cgroupdeleg.NotDelegated, cgroupdeleg.InvalidDelegate, cgroupdeleg.NoLinger},
			hasErr: true},
		{host: "legacy", uid: 1000, mode: cgroupdeleg.Legacy,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []cgroupdeleg.ID{cgroupdeleg.CgroupV1}},
		{host: "no-session", uid: 1001, mode: cgroupdeleg.Unified,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []cgroupdeleg.ID{cgroupdeleg.NoUserManager, cgroupdeleg.NoLinger},
			hasErr:  true},
	} {
		t.Run(tt.host, func(t *testing.T) {
			r := detect(t, fixture(t, tt.host), tt.uid)
			if r.Mode != tt.mode {
				t.Errorf("Mode = %v, want %v", r.Mode, tt.mode)
			}
			if !slices.Equal(r.Delegated, tt.delegated) {
				t.Errorf("Delegated = %q, want %q", r.Delegated, tt.delegated)
			}
			if !slices.Equal(r.Missing, tt.missing) {
				t.Errorf("Missing = %q, want %q", r.Missing, tt.missing)
			}
			if got := ids(r); !slices.Equal(got, tt.ids) {
				t.Errorf("finding IDs = %q, want %q", got, tt.ids)
			}
			if err := r.Err(); (err != nil) != tt.hasErr {
				t.Errorf("Err() = %v, want error: %v", err, tt.hasErr)
			}
			golden(t, tt.host+".golden", r.String())
		})
	}
}
