package cgroupdeleg_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
)

func TestParseProcCgroup(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		v2      string
		deleted bool
		v1      map[string]string
		bad     string // substring of the error; "" means no error
	}{
		{name: "unified", in: "0::/user.slice/user-1000.slice/session-3.scope\n",
			v2: "/user.slice/user-1000.slice/session-3.scope"},
		{name: "root (C3)", in: "0::/\n", v2: "/"},
		{name: "hybrid has a 0:: line too (C2)",
			in: "9:name=systemd:/user.slice\n4:cpu,cpuacct:/\n1:memory:/m\n0::/user.slice\n",
			v2: "/user.slice", v1: map[string]string{"name=systemd": "/user.slice", "cpu": "/", "cpuacct": "/", "memory": "/m"}},
		{name: "legacy", in: "1:name=systemd:/init.scope\n2:pids:/x\n",
			v1: map[string]string{"name=systemd": "/init.scope", "pids": "/x"}},
		{name: "deleted (C4)", in: "0::/app.slice/run-r1.scope (deleted)\n",
			v2: "/app.slice/run-r1.scope", deleted: true},
		{name: "only the last (deleted) is the marker", in: "0::/a (deleted) (deleted)\n",
			v2: "/a (deleted)", deleted: true},
		{name: "path with colons and escapes is literal (C4)",
			in: `0::/system.slice/dev-disk-by\x2dlabel-a:b.mount` + "\n",
			v2: `/system.slice/dev-disk-by\x2dlabel-a:b.mount`},
		{name: "v1 path with colons", in: "3:cpuset:/a:b:c\n", v1: map[string]string{"cpuset": "/a:b:c"}},
		{name: "a CR is part of the name", in: "0::/x\r\n", v2: "/x\r"},
		{name: "blank lines and no final newline", in: "\n\n0::/x", v2: "/x"},
		{name: "two fields", in: "0:/x\n0::/y\n", v2: "/y", bad: ":1: want hierarchy-ID:controllers:path"},
		{name: "non-numeric id", in: "x::/y\n", bad: "hierarchy ID is not a number"},
		{name: "relative path", in: "0::user.slice\n", bad: "does not start with /"},
		{name: "second 0:: line", in: "0::/a\n0::/b\n", v2: "/a", bad: ":2: second 0:: line"},
		{name: "v1 without controllers", in: "4::/a\n", bad: "v1 hierarchy without controllers"},
		{name: "controllers on hierarchy 0", in: "0:cpu:/a\n", bad: "hierarchy 0 lists controllers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := cgroupdeleg.ParseProcCgroup(strings.NewReader(tt.in))
			switch {
			case tt.bad == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
				t.Fatalf("error = %v, want one containing %q", err, tt.bad)
			}
			if p.V2 != tt.v2 || p.Deleted != tt.deleted {
				t.Errorf("V2, Deleted = %q, %v; want %q, %v", p.V2, p.Deleted, tt.v2, tt.deleted)
			}
			if !maps.Equal(p.V1, tt.v1) {
				t.Errorf("V1 = %v, want %v", p.V1, tt.v1)
			}
		})
	}
}

func TestProcStringRoundTrip(t *testing.T) {
	in := "9:name=systemd:/a:b\n4:cpu,cpuacct:/\n0::/x (deleted)\n"
	p, err := cgroupdeleg.ParseProcCgroup(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := "1:cpu:/\n2:cpuacct:/\n3:name=systemd:/a:b\n0::/x (deleted)\n"
	if got := p.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
