package cgroupdeleg_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
)

// The seed corpus lives in testdata/fuzz/<target>; f.Add adds the
// documented edge cases. Run one target with, e.g.:
//
//	go test -run '^$' -fuzz '^FuzzParseProcCgroup$' -fuzztime 30s ./cgroupdeleg

func FuzzParseProcCgroup(f *testing.F) {
	for _, s := range []string{
		"0::/user.slice/user-1000.slice/session-3.scope\n",
		"9:name=systemd:/\n4:memory:/process_api/b74\n1:cpu,cpuacct:/\n0::/\n",
		"0::/app.slice/run-r1.scope (deleted)\n",
		"3:cpuset:/a:b:c\n0::/dev-disk-by\\x2dlabel.mount\n",
		"0::/x\r\n0::/y\nx::/\n4::/a\n0:cpu:/\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, _ := cgroupdeleg.ParseProcCgroup(strings.NewReader(in))
		if p.V2 != "" && !strings.HasPrefix(p.V2, "/") {
			t.Fatalf("V2 %q is not absolute", p.V2)
		}
		for c, path := range p.V1 {
			if c == "" || strings.ContainsAny(c, ":,\n") || !strings.HasPrefix(path, "/") {
				t.Fatalf("bad V1 entry %q: %q", c, path)
			}
		}
		// What String prints parses back, cleanly, to the same Proc.
		q, err := cgroupdeleg.ParseProcCgroup(strings.NewReader(p.String()))
		if err != nil {
			t.Fatalf("reparse of %q: %v", p.String(), err)
		}
		if q.V2 != p.V2 || q.Deleted != p.Deleted || !maps.Equal(q.V1, p.V1) {
			t.Fatalf("round trip changed %+v into %+v", p, q)
		}
	})
}

func FuzzParseDelegate(f *testing.F) {
	f.Add("pids memory cpu", "", "cpu cpuset io memory pids")
	f.Add("yes", "cpu", "no")
	f.Add(`"cpu" 'io`, "hugetlb rdma", "\\")
	f.Add("On", " \t", `p"id"s\ memory`)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		d := cgroupdeleg.ParseDelegate(a, b, c)
		if d.All && !d.On || !d.On && (d.All || len(d.Controllers) > 0) || d.All && len(d.Controllers) > 0 {
			t.Fatalf("inconsistent %+v", d)
		}
		for i, ctl := range d.Controllers {
			if !cgroupdeleg.Delegatable(ctl) || !d.Has(ctl) {
				t.Fatalf("%q in %+v", ctl, d)
			}
			if i > 0 && ctl == d.Controllers[i-1] {
				t.Fatalf("duplicate %q in %q", ctl, d.Controllers)
			}
		}
		for _, inv := range d.Invalid {
			if d.Has(inv) {
				t.Fatalf("invalid %q is delegated", inv)
			}
		}
		// A boolean as the last value decides alone.
		if last := cgroupdeleg.ParseDelegate(c); strings.EqualFold(strings.TrimSpace(c), "no") || strings.EqualFold(strings.TrimSpace(c), "yes") {
			if d.On != last.On || d.All != last.All || len(d.Controllers) != 0 {
				t.Fatalf("ParseDelegate(%q, %q, %q) = %+v, want %+v", a, b, c, d, last)
			}
		}
		// Lists accumulate: adding a list never loses a controller.
		if e := cgroupdeleg.ParseDelegate(a, b, c, "memory"); d.On && !d.All {
			for _, ctl := range d.Controllers {
				if !e.Has(ctl) {
					t.Fatalf("appending memory lost %q: %+v -> %+v", ctl, d, e)
				}
			}
		}
	})
}

func FuzzParseUnit(f *testing.F) {
	f.Add("[Service]\nDelegate=pids memory cpu\n")
	f.Add("# c\n; c \\\n more\n[Unit]\nX=1\n[Service]\n  Delegate = cpu\nDelegate=memory \\\n  pids\nDelegate=\n")
	f.Add("[Service]\r\nDelegate=cpu\r\n\r\nExecStart=/bin/true \\\r\n Delegate=no\r\n")
	f.Add("x[Service]\nDelegate=yes")
	f.Fuzz(func(t *testing.T, in string) {
		as, err := cgroupdeleg.ParseUnit("f", strings.NewReader(in))
		if err != nil {
			return
		}
		lines := strings.Split(in, "\n")
		prev := 0
		for _, a := range as {
			if a.Line < 1 || a.Line > len(lines) || a.Line < prev {
				t.Fatalf("line %d out of order or range (%d lines): %+v", a.Line, len(lines), as)
			}
			prev = a.Line
			if !strings.Contains(lines[a.Line-1], "Delegate") {
				t.Fatalf("line %d %q has no Delegate: %+v", a.Line, lines[a.Line-1], as)
			}
			if strings.Contains(a.Value, "\\\n") {
				t.Fatalf("continuation left in %q", a.Value)
			}
		}
	})
}

func FuzzParseSystemdVersion(f *testing.F) {
	for _, s := range []string{"v245.4-1.fc32", `"v245.4-1.fc32"`, "245", "systemd 255 (255.4-1ubuntu8)",
		"systemd 252 (252.22-1~deb12u1)\n+PAM", "", "v", "0", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := cgroupdeleg.ParseSystemdVersion(s)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("ParseSystemdVersion(%q) = %d", s, n)
		}
		for _, form := range []string{strconv.Itoa(n), "v" + strconv.Itoa(n) + ".1-1.fc40", "systemd " + strconv.Itoa(n) + " (x)"} {
			if m, err := cgroupdeleg.ParseSystemdVersion(form); err != nil || m != n {
				t.Fatalf("ParseSystemdVersion(%q) = %d, %v; want %d", form, m, err, n)
			}
		}
	})
}

// FuzzDetect runs Detect on a systemd + cgroup v2 host whose
// /proc/self/cgroup, /proc/1/cgroup, cgroup.controllers and a drop-in are
// fuzzed: it must not fail, and the report must stay consistent.
func FuzzDetect(f *testing.F) {
	f.Add("0::/user.slice/user-1000.slice/session-3.scope\n", "0::/init.scope\n", "memory pids\n", "[Service]\nDelegate=cpu\n", "cpu")
	f.Add("0::/wsl-user/d/non-systemd\n", "0::/wsl-user/d/systemd/init.scope\n", "cpu memory pids", "[Service]\nDelegate=\n", "")
	f.Add("0::/../x\n", "0::/..\n", "", "[Service]\nDelegate=no\n", "hugetlb")
	f.Add("0::/\n", "garbage", "cpuset cpu io memory pids\n", "[Service]\nDelegate\n", "io")
	f.Fuzz(func(t *testing.T, self, pid1, controllers, dropIn, want string) {
		files, manifest := v2Host()
		files["proc/self/cgroup"] = self
		files["proc/1/cgroup"] = pid1
		files[svc+"/cgroup.controllers"] = controllers
		files["etc/systemd/system/user@.service.d/f.conf"] = dropIn
		var wanted []string
		if w := strings.TrimSpace(want); w != "" && !strings.ContainsAny(w, " \t\n/") {
			wanted = []string{w}
		}
		r, err := cgroupdeleg.Detect(context.Background(), mapSys(t, files, manifest), 1000, wanted...)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range r.Wanted {
			if slices.Contains(r.Delegated, w) == slices.Contains(r.Missing, w) {
				t.Fatalf("%q is both or neither delegated and missing: %q / %q", w, r.Delegated, r.Missing)
			}
		}
		for _, c := range r.Delegated {
			if !slices.Contains(r.Available, c) {
				t.Fatalf("delegated %q not available %q", c, r.Available)
			}
		}
		checkFindings(t, r) // a listed ID, a valid severity, detail, evidence and fix
		for i, fd := range r.Findings {
			if i > 0 && fd.Severity > r.Findings[i-1].Severity {
				t.Fatalf("findings not sorted by severity: %q", ids(r))
			}
		}
		_ = r.String()
	})
}

func FuzzFixture(f *testing.F) {
	f.Add("statfs sys/fs/cgroup cgroup2\nowner 1000 sys/fs/cgroup/a\nenv K=V\n", "sys/fs/cgroup/a/b")
	f.Add("# c\n\nstatfs / EACCES\nowner 0 /\n", "x")
	f.Add("statfs ../ 0x1\n", ".")
	f.Fuzz(func(t *testing.T, manifest, name string) {
		sys, err := cgroupdeleg.Fixture(fstest.MapFS{
			"fixture.txt":     {Data: []byte(manifest)},
			"root/etc/passwd": {Data: []byte("x:x:0:0::/:/bin/sh\n")},
		})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "cgroupdeleg: fixture.txt:") {
				t.Fatalf("error %q lacks its line", err)
			}
			return
		}
		_, _ = sys.Statfs(name)
		_, _ = sys.Owner(name)
		_ = sys.Getenv(name)
	})
}
