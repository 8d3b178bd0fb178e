//go:build linux

package testbed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var plan = []GuestPhase{
	{Name: "first", Tests: []string{"TestA", "TestB"}},
	{Name: "change", Root: true, Tests: []string{"TestRootC"}},
	{Name: "then", Tests: []string{"TestD"}},
	{Name: "other", Binary: "other.test", Tests: []string{"TestE"}},
}

func TestPhasesFile(t *testing.T) {
	got, err := phasesFile(GuestRun{Binary: "/x/guest.test", Phases: plan, Env: []string{"A=1"}, PhaseTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	want := []string{
		"user env A=1 /usr/local/libexec/rootlessd-guest/guest.test -test.v=test2json -test.count=1 -test.timeout=5m0s -test.run=^(TestA|TestB)$",
		"root env A=1 /usr/local/libexec/rootlessd-guest/guest.test -test.v=test2json -test.count=1 -test.timeout=5m0s -test.run=^(TestRootC)$",
		"user env A=1 /usr/local/libexec/rootlessd-guest/guest.test -test.v=test2json -test.count=1 -test.timeout=5m0s -test.run=^(TestD)$",
		"user env A=1 /usr/local/libexec/rootlessd-guest/other.test -test.v=test2json -test.count=1 -test.timeout=5m0s -test.run=^(TestE)$",
	}
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "#") || strings.Join(lines[1:], "\n") != strings.Join(want, "\n") {
		t.Errorf("phases file:\n%s\nwant a comment, then:\n%s", got, strings.Join(want, "\n"))
	}
	for _, bad := range []GuestRun{
		{Phases: plan, Env: []string{"A=with space"}},
		{Phases: plan, Env: []string{"NOVALUE"}},
		{Phases: []GuestPhase{{Name: "empty"}}},
		{Phases: []GuestPhase{{Name: "a/b", Tests: []string{"TestA"}}}},
		{Phases: []GuestPhase{{Name: "p", Tests: []string{"TestA|TestB"}}}},
	} {
		if _, err := phasesFile(bad); err == nil {
			t.Errorf("phasesFile(%+v) accepted it", bad)
		}
	}
}

func TestFilterPhases(t *testing.T) {
	got, err := FilterPhases(plan, "B|D")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "first" || len(got[0].Tests) != 1 || got[0].Tests[0] != "TestB" || got[1].Name != "then" {
		t.Errorf("FilterPhases(B|D) = %+v", got)
	}
	if len(plan[0].Tests) != 2 {
		t.Errorf("FilterPhases changed its input: %+v", plan[0])
	}
	if _, err := FilterPhases(plan, "Nothing"); err == nil {
		t.Error("a filter that matches nothing is not an error")
	}
	if _, err := FilterPhases(plan, "("); err == nil {
		t.Error("a bad regular expression is not an error")
	}
}

// TestGuestResultTests: every planned test gets an outcome; one the guest said nothing about has
// none, which Report turns into a failure.
func TestGuestResultTests(t *testing.T) {
	r := &GuestResult{Phases: []PhaseResult{
		{Phase: plan[0], Ran: true, Events: []TestEvent{
			{Action: "run", Test: "TestA"},
			{Action: "output", Test: "TestA", Output: "a says\n"},
			{Action: "output", Test: "TestA/sub", Output: "sub says\n"},
			{Action: "fail", Test: "TestA/sub"},
			{Action: "fail", Test: "TestA", Elapsed: 1.5},
			{Action: "run", Test: "TestB"},
			{Action: "output", Test: "", Output: "FAIL\n"},
		}},
		{Phase: plan[1]},
	}}
	got := r.Tests()
	if len(got) != 3 {
		t.Fatalf("Tests() = %+v, want 3 outcomes", got)
	}
	if a := got[0]; a.Name != "TestA" || a.Action != "fail" || a.Elapsed != 1500*time.Millisecond || a.Output != "a says\nsub says\n" {
		t.Errorf("TestA: %+v", a)
	}
	if b := got[1]; b.Name != "TestB" || b.Action != "" {
		t.Errorf("TestB (started, never finished): %+v, want no outcome", b)
	}
	if c := got[2]; c.Phase != "change" || c.Name != "TestRootC" || c.Action != "" {
		t.Errorf("TestRootC (phase not run): %+v", c)
	}
}

func TestReadEnvFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "vm.env")
	if err := os.WriteFile(f, []byte("# comment\nA=plain\nB=\"quoted value\"\n\nC=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kv, err := readEnvFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if kv["A"] != "plain" || kv["B"] != "quoted value" || kv["C"] != "" || len(kv) != 3 {
		t.Errorf("readEnvFile: %q", kv)
	}
	if err := os.WriteFile(f, []byte("no equals sign\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readEnvFile(f); err == nil {
		t.Error("a malformed line is not an error")
	}
}

func TestAccelOverride(t *testing.T) {
	t.Setenv(EnvVMAccel, "tcg")
	if a, cpu, why := Accel(); a != "tcg,thread=multi" || cpu != "max" || why == "" {
		t.Errorf("Accel() with %s=tcg: %s %s %q", EnvVMAccel, a, cpu, why)
	}
	t.Setenv(EnvVMAccel, "kvm")
	if a, cpu, _ := Accel(); a != "kvm" || cpu != "host" {
		t.Errorf("Accel() with %s=kvm: %s %s", EnvVMAccel, a, cpu)
	}
}
