//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureResults is a small run: ready on two stacks (one met, one missed), a first container
// whose target lies below the floor, a check, and a skipped pair.
func fixtureResults() *results {
	r := newResults()
	r.Rounds, r.Minutes, r.Command = 3, 12, "ROOTLESSD_TESTBED_USER=rootlessd2 go run ./internal/bench"
	r.Machine.QuietLoad = 1.5
	r.Stacks = []StackInfo{{Name: "distro", Dockerd: "Docker version 20.10.24", RootlessKit: "rootlesskit version 1.1.0"}}
	r.Skipped = []string{"distro pasta/implicit: rootlesskit 1.1.0 has no such combination"}
	for _, v := range []float64{700, 710, 690} {
		r.add(mReady, "distro", "slirp4netns/builtin", cRootlessd, v)
		r.add(mReady, "distro", "slirp4netns/builtin", cAnchor, v*1.25)
		r.add(mReady, "distro", "slirp4netns/builtin", cFloor, v)
		r.add(mReady, "current", "slirp4netns/builtin", cRootlessd, v*2)
		r.add(mReady, "current", "slirp4netns/builtin", cAnchor, v)
		r.add(mCheck, "distro", "slirp4netns/builtin", cRootlessd, v/50)
		r.add(mCheck, "distro", "slirp4netns/builtin", cAnchor, v/10)
		r.add(mFirst, "distro", "slirp4netns/builtin", cRootlessd, v+400)
		r.add(mFirst, "distro", "slirp4netns/builtin", cAnchor, v+300)
		r.add(mFirst, "distro", "slirp4netns/builtin", cFloor, v+200)
	}
	r.add(mCheck+"-first", "distro", "slirp4netns/builtin", cRootlessd, 30)
	return r
}

func TestReport(t *testing.T) {
	r := fixtureResults()
	md := markdown(r, &options{})
	for _, want := range []string{
		"| time to ready | distro | slirp4netns/builtin | 700 ms | 875 ms | 700 ms | 0.80× anchor, 1.00× floor | met (≤ 0.85× anchor and ≤ 1.15× floor) |",
		"| time to ready | current | slirp4netns/builtin | 1400 ms | 700 ms | – | 2.00× anchor | **missed** (≤ 0.85× anchor and ≤ 1.15× floor) |",
		"| host check | distro | slirp4netns/builtin | 14.0 ms | 70.0 ms | – | 0.20× anchor | met (rootlessd ≤ 20 ms) |",
		"- distro pasta/implicit: rootlesskit 1.1.0 has no such combination",
		"```\n" + r.Command + "\n```",
		"Medians of 3 interleaved rounds",
		"| host check, first of a session | distro | slirp4netns/builtin | 30.0 ms | – | – |",
		// The distro anchor's 1000 ms first container: 0.85× is 850 ms, below the floor's 900.
		"Here 0.85× the anchor is 850 ms, below the floor's 900 ms (rootful dockerd in no user namespace, with no network driver): no rootless start can meet it on this stack.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, "**missed**"); n != 2 {
		t.Errorf("%d missed targets in the table, want 2:\n%s", n, md)
	}
	for _, c := range []struct {
		target, anchor, floor float64
		want                  string
	}{
		{301, 354, 294, " Here 0.85× the anchor is 301 ms, 7 ms above the floor's 294 ms (rootful dockerd in no user namespace, with no network driver): everything rootless (the namespaces, the network and port drivers) would have to fit in 7 ms, where the script's takes 60 ms."},
		{850, 1000, 900, " Here 0.85× the anchor is 850 ms, below the floor's 900 ms (rootful dockerd in no user namespace, with no network driver): no rootless start can meet it on this stack."},
		{850, 1000, 700, ""},
	} {
		if got := floorMargin(c.target, c.anchor, c.floor); got != c.want {
			t.Errorf("floorMargin(%v, %v, %v) = %q; want %q", c.target, c.anchor, c.floor, got, c.want)
		}
	}
	if n := strings.Count(md, "below the floor's"); n != 1 {
		t.Errorf("%d targets called below the floor, want the first container's alone:\n%s", n, md)
	}
}

// TestRender: -render draws the same report from a run's JSON, and the chart as SVG and PNG.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	r := fixtureResults()
	o := &options{jsonOut: filepath.Join(dir, "r.json"), doc: filepath.Join(dir, "a.md"), chart: filepath.Join(dir, "a.svg")}
	if err := write(r, o); err != nil {
		t.Fatal(err)
	}
	back, err := readResults(o.jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	o2 := &options{doc: filepath.Join(dir, "b.md"), chart: filepath.Join(dir, "b.png")}
	if err := write(back, o2); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(o.doc)
	b, _ := os.ReadFile(o2.doc)
	if strings.ReplaceAll(string(a), "a.svg", "b.png") != string(b) {
		t.Errorf("the report from the JSON differs:\n%s\n---\n%s", a, b)
	}
	for _, f := range []string{o.chart, o2.chart} {
		if fi, err := os.Stat(f); err != nil || fi.Size() < 1000 {
			t.Errorf("chart %s: %v", f, err)
		}
	}
	if _, err := readResults(o.doc); err == nil {
		t.Error("readResults of a Markdown file: no error")
	}
}

func TestCannotRun(t *testing.T) {
	b := &bench{}
	old := StackInfo{RootlessKit: "rootlesskit version 1.1.0"}
	cur := StackInfo{RootlessKit: "rootlesskit version 3.3.0"}
	for _, tc := range []struct {
		si   StackInfo
		dv   drivers
		runs bool
	}{
		{old, drivers{"slirp4netns", "builtin"}, true},
		{old, drivers{"gvisor-tap-vsock", "builtin"}, false},
		{old, drivers{"vpnkit", "builtin"}, false},
		{cur, drivers{"gvisor-tap-vsock", "builtin"}, true},
		{cur, drivers{"pasta", "builtin"}, false}, // only RootlessKit's library runs it
		{StackInfo{RootlessKit: "rootlesskit version 9.9.9"}, drivers{"anything", "goes"}, true},
	} {
		why := b.cannotRun(tc.si, tc.dv)
		if (why == "") != tc.runs {
			t.Errorf("cannotRun(%s, %s) = %q, want runs=%v", tc.si.RootlessKit, tc.dv, why, tc.runs)
		}
	}
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-short"})
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 1 || len(o.drivers) != 1 || o.doc != "" || !o.metrics[mReady] || o.metrics[mDensity] {
		t.Errorf("-short: %+v", o)
	}
	o, err = parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 7 || len(o.drivers) != 2 || o.doc != "docs/performance.md" || !o.metrics[mDensity] || o.metrics[mDockerd] {
		t.Errorf("defaults: %+v", o)
	}
	for _, bad := range [][]string{{"-rounds", "0"}, {"-drivers", "slirp4netns"}, {"-metrics", "speed"}, {"-bytes", "lots"}, {"extra"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q): no error", bad)
		}
	}
}
