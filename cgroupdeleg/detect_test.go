package cgroupdeleg_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/diagtest"
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
	checkFindings(t, r)
	return r
}

// reached records the IDs of the findings that the tests produced, for
// TestMain.
var reached sync.Map

// checkFindings checks every finding of r: a listed ID, a valid severity
// (never 0), a detail, evidence, and a fix.
func checkFindings(t testing.TB, r *cgroupdeleg.Report) {
	t.Helper()
	ids := cgroupdeleg.IDs()
	for _, f := range r.Findings {
		reached.Store(f.ID, true)
		diagtest.Finding(t, ids, f)
		if f.Evidence == "" || f.Fix == "" {
			t.Errorf("finding %s lacks evidence or a fix: %+v", f.ID, f)
		}
	}
}

// TestMain fails a full run (no -run, -skip or -fuzz) in which some ID of
// IDs was carried by no finding: every ID must be driven by a test, which
// also checks it with checkFindings.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	full := true
	for _, name := range []string{"test.run", "test.skip", "test.fuzz", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			full = false
		}
	}
	if code == 0 && full {
		for _, id := range cgroupdeleg.IDs() {
			if _, ok := reached.Load(id); !ok {
				fmt.Fprintf(os.Stderr, "FAIL: no test produced a finding with %s: drive it in a test, or drop it if nothing reports it\n", id)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// TestIDsComplete proves from the sources that IDs lists every ID a
// finding can carry.
func TestIDsComplete(t *testing.T) {
	diagtest.CheckIDs(t, ".", "cgroupdeleg", cgroupdeleg.IDs(), 15)
}

// TestNoZeroSeverity runs Detect on every fixture host, for each uid the
// hosts have, and checks that no finding has severity 0, which diag
// leaves invalid (cgroupdeleg's own enum once had Info = 0).
func TestNoZeroSeverity(t *testing.T) {
	hosts, err := os.ReadDir(filepath.Join("testdata", "hosts"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, h := range hosts {
		for _, uid := range []int{0, 1000, 1001} {
			r, err := cgroupdeleg.Detect(context.Background(), fixture(t, h.Name()), uid)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range r.Findings {
				n++
				if f.Severity == 0 {
					t.Errorf("%s, uid %d: %s has severity 0", h.Name(), uid, f.ID)
				}
			}
			checkFindings(t, r)
		}
	}
	if n == 0 {
		t.Fatal("no findings on any fixture host")
	}
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

func ids(r *cgroupdeleg.Report) []diag.ID {
	var out []diag.ID
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
		ids       []diag.ID // exactly these findings, in order
		hasErr    bool
	}{
		{host: "delegated", uid: 1000, mode: cgroupdeleg.Unified,
			delegated: []string{"cpu", "cpuset", "io", "memory", "pids"}},
		{host: "systemd-default", uid: 1000, mode: cgroupdeleg.Unified,
			delegated: []string{"memory", "pids"}, missing: []string{"cpu", "cpuset", "io"},
			ids: []diag.ID{cgroupdeleg.IDNotDelegated, cgroupdeleg.IDNoLinger}},
		{host: "hybrid", uid: 1000, mode: cgroupdeleg.Hybrid,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []diag.ID{cgroupdeleg.IDCgroupHybrid, cgroupdeleg.IDNoSystemd}},
		{host: "openrc", uid: 1000, mode: cgroupdeleg.Unified,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []diag.ID{cgroupdeleg.IDNoSystemd}},
		{host: "wsl", uid: 1000, mode: cgroupdeleg.Unified,
			delegated: []string{"cpu", "memory", "pids"}, missing: []string{"cpuset", "io"},
			ids:    []diag.ID{cgroupdeleg.IDNestedSystemd, cgroupdeleg.IDNotDelegated},
			hasErr: true},
		{host: "not-owned", uid: 1000, mode: cgroupdeleg.Unified,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []diag.ID{cgroupdeleg.IDNotOwned}},
		{host: "old-systemd", uid: 1000, mode: cgroupdeleg.Unified,
			delegated: []string{"memory", "pids"}, missing: []string{"cpu", "cpuset", "io"},
			ids: []diag.ID{cgroupdeleg.IDNoUserBus, cgroupdeleg.IDCpusetNeedsSystemd244,
				cgroupdeleg.IDNotDelegated, cgroupdeleg.IDInvalidDelegate, cgroupdeleg.IDNoLinger},
			hasErr: true},
		{host: "legacy", uid: 1000, mode: cgroupdeleg.Legacy,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []diag.ID{cgroupdeleg.IDCgroupV1}},
		{host: "no-session", uid: 1001, mode: cgroupdeleg.Unified,
			missing: []string{"cpu", "cpuset", "io", "memory", "pids"},
			ids:     []diag.ID{cgroupdeleg.IDNoUserManager, cgroupdeleg.IDNoLinger},
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
