package engine

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

func TestSpecValidate(t *testing.T) {
	good := Spec{StateDir: "/run/user/1000/rk", Net: netdriver.Slirp4netns{}, Port: portdriver.Builtin{},
		Target: Target{Argv: []string{"/usr/bin/dockerd"}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	bad := Spec{StateDir: "rk", DetachNetNS: true, SubidSource: "ldap", Target: Target{Argv: []string{"dockerd"}}}
	err := bad.Validate()
	for _, want := range []string{`state dir "rk" is not absolute`, `target ["dockerd"] is not an absolute program path`,
		"detach-netns, a port driver and published ports need a network driver", `subid source "ldap"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to report %q", err, want)
		}
	}
	mismatch := good
	mismatch.Port = portdriver.Implicit{}
	if err := mismatch.Validate(); !errors.Is(err, netdriver.IDIncompatible) {
		t.Errorf("slirp4netns with implicit: %v", err)
	}
	sandboxed := good
	sandboxed.Net, sandboxed.DetachNetNS = netdriver.Slirp4netns{Sandbox: netdriver.True}, true
	if err := sandboxed.Validate(); !errors.Is(err, netdriver.IDInvalidConfig) {
		t.Errorf("sandbox with detach-netns: %v", err)
	}
	noAPI := good
	noAPI.Net, noAPI.Port = netdriver.Pasta{}, portdriver.Implicit{}
	noAPI.Publish = []portdriver.Spec{{Parent: netip.MustParseAddrPort("127.0.0.1:8080"), ChildPort: 80}}
	if err := noAPI.Validate(); !errors.Is(err, netdriver.IDNoPortAPI) {
		t.Errorf("publish with implicit: %v", err)
	}
}

// TestSpecTravelsThroughAFile: the helper, RootlessKit's child and the target read the spec
// the starting process wrote, with typed drivers and publish specs (no string round trip), in
// a private file whatever the size of the environment.
func TestSpecTravelsThroughAFile(t *testing.T) {
	big := make([]string, 0, 200)
	for i := range 200 {
		big = append(big, fmt.Sprintf("VAR%03d=%s", i, strings.Repeat("x", 1024))) // 200 KiB
	}
	s := Spec{StateDir: "/s", Net: netdriver.Pasta{MTU: 1500, IPv6: true}, Port: portdriver.Pesto{Binary: "/usr/bin/pesto"},
		Publish:     []portdriver.Spec{{Parent: netip.MustParseAddrPort("127.0.0.1:8080"), ChildPort: 80, Proto: portdriver.TCP}},
		DetachNetNS: true, PIDNS: true, CopyUp: []string{"/etc", "/run"}, Propagation: "rslave", SubidSource: "static",
		Target: Target{Argv: []string{"/bin/dockerd", "--debug"}, Env: big, Prepare: true, SELinux: true}}
	dir := t.TempDir()
	path, err := writeSpec(&s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(path) != dir {
		t.Fatalf("spec file %s: %v, %v; want mode 0600 in %s", path, fi.Mode(), err, dir)
	}
	t.Setenv(envConfig, path)
	got, err := readSpec()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, s) {
		t.Fatalf("round trip changed the spec:\n got %+v\nwant %+v", *got, s)
	}
	if len(envConfig+"="+path) > 4096 {
		t.Errorf("the environment carries %d bytes for the spec", len(path))
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readSpec(); err == nil {
		t.Error("readSpec accepted malformed JSON")
	}
	t.Setenv(envConfig, filepath.Join(dir, "missing"))
	if _, err := readSpec(); err == nil {
		t.Error("readSpec accepted a missing file")
	}
	third := s
	third.Net = struct{ netdriver.Slirp4netns }{}
	if _, err := writeSpec(&third, dir); !errors.Is(err, netdriver.IDNotBuiltin) {
		t.Errorf("a third-party driver was written: %v", err)
	}
}

// TestFlags renders specs for every RootlessKit line into a golden file: the one place
// RootlessKit flags are built.
func TestFlags(t *testing.T) {
	target := Target{Argv: []string{"/usr/bin/dockerd"}}
	pub := []portdriver.Spec{{Parent: netip.MustParseAddrPort("127.0.0.1:2376"), ChildPort: 2376}, {Parent: netip.AddrPortFrom(netip.Addr{}, 8053), ChildPort: 53, Proto: portdriver.UDP}}
	specs := []struct {
		name string
		s    Spec
	}{
		{"daemon", Spec{StateDir: "/run/user/1000/rootlessd/dockerd-rootless", Net: netdriver.Slirp4netns{Binary: "/usr/bin/slirp4netns", Sandbox: netdriver.True, Seccomp: netdriver.True},
			Port: portdriver.Builtin{}, PIDNS: true, CopyUp: []string{"/etc", "/run"}, Propagation: "rslave", Target: target}},
		{"detached", Spec{StateDir: "/s", Net: netdriver.Slirp4netns{Sandbox: netdriver.False}, Port: portdriver.Builtin{}, DetachNetNS: true, PIDNS: true, Target: target}},
		{"publish", Spec{StateDir: "/s", Net: netdriver.GVisorTapVsock{}, Port: portdriver.Builtin{}, Publish: pub, SubidSource: "dynamic", Debug: true, Target: target}},
		{"pasta-pesto", Spec{StateDir: "/s", Net: netdriver.Pasta{IPv6: true}, Port: portdriver.Pesto{}, Target: target}},
		{"rm", Spec{StateDir: "/s/rm-1", SubidSource: "auto", Target: Target{Argv: []string{"/bin/rm", "-rf", "--", "/d"}}}},
	}
	var b strings.Builder
	for _, sp := range specs {
		for _, v := range []netdriver.Version{{Major: 1, Minor: 1}, {Major: 2, Minor: 0, Patch: 2}, {Major: 3}, netdriver.LinkedRootlessKit} {
			f, err := sp.s.Flags(v)
			if err != nil {
				fmt.Fprintf(&b, "%s %s: error: %v\n", sp.name, v, err)
				continue
			}
			fmt.Fprintf(&b, "%s %s: %s\n", sp.name, v, strings.Join(f, " "))
		}
	}
	golden(t, "testdata/flags.golden", b.String())
}

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestCleanEnv(t *testing.T) {
	got := cleanEnv([]string{"PATH=/bin", "LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=x", "_ROOTLESSD_ENGINE_ROLE=parent", "HOME=/h"})
	if want := []string{"PATH=/bin", "HOME=/h"}; !slices.Equal(got, want) {
		t.Fatalf("cleanEnv = %q, want %q (systemd activation and engine keys must not leak)", got, want)
	}
}
