package netdriver_test

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/flags")

// helpVersions are the RootlessKit releases whose --help is in testdata/tools.
var helpVersions = []string{"1.1.0", "2.0.0", "2.3.6", "3.0.0", "3.1.0", "3.3.0"}

var portNames = []string{"", portdriver.NameBuiltin, portdriver.NameSlirp4netns, portdriver.NameImplicit, portdriver.NamePesto, portdriver.NameGVisorTapVsock, portdriver.NameNone}

func flagCases() []struct {
	name string
	d    netdriver.Driver
} {
	cidr := netip.MustParsePrefix("10.0.3.0/24")
	return []struct {
		name string
		d    netdriver.Driver
	}{
		{"slirp4netns-default", netdriver.Slirp4netns{}},
		{"slirp4netns-custom", netdriver.Slirp4netns{Binary: "/opt/bin/slirp4netns", MTU: 1500, CIDR: cidr, IfName: "tap1", HostLoopback: true, IPv6: true, Sandbox: netdriver.False, Seccomp: netdriver.True}},
		{"pasta-default", netdriver.Pasta{}},
		{"pasta-custom", netdriver.Pasta{Binary: "/opt/bin/pasta", MTU: 9000, CIDR: cidr, HostLoopback: true, IPv6: true}},
		{"vpnkit-default", netdriver.VPNKit{}},
		{"vpnkit-custom", netdriver.VPNKit{Binary: "/opt/bin/vpnkit", IfName: "tap1", HostLoopback: true}},
		{"lxc-user-nic-default", netdriver.LXCUserNIC{}},
		{"lxc-user-nic-custom", netdriver.LXCUserNIC{Binary: "/usr/lib/x86_64-linux-gnu/lxc/lxc-user-nic", MTU: 9000, Bridge: "br1", IfName: "eth1"}},
		{"gvisor-tap-vsock-default", netdriver.GVisorTapVsock{}},
		{"gvisor-tap-vsock-custom", netdriver.GVisorTapVsock{MTU: 1500, HostLoopback: true}},
		{"none", netdriver.None{}},
		{"host", netdriver.HostNetwork{}},
	}
}

// TestFlagsGolden writes every driver's flags for every RootlessKit version
// and port driver to testdata/flags/NAME.golden (go test -update rewrites).
func TestFlagsGolden(t *testing.T) {
	for _, c := range flagCases() {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			enc, _ := netdriver.Encode(c.d)
			fmt.Fprintf(&b, "# %s\n", enc)
			for _, vs := range helpVersions {
				v, _ := netdriver.ParseVersion(vs)
				for _, port := range portNames {
					f, err := c.d.Flags(v, port)
					p := port
					if p == "" {
						p = "(default)"
					}
					if err != nil {
						fmt.Fprintf(&b, "%s %s: error: %v\n", vs, p, err)
						continue
					}
					fmt.Fprintf(&b, "%s %s: %s\n", vs, p, strings.Join(f, " "))
				}
			}
			golden := filepath.Join("testdata", "flags", c.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if string(want) != b.String() {
				t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", golden, b.String(), want)
			}
		})
	}
}

// help is what a rootlesskit --help lists.
type help struct {
	flags, nets, ports map[string]bool
}

var (
	flagRE = regexp.MustCompile(`--[a-z0-9][a-z0-9-]*`)
	listRE = regexp.MustCompile(`\[([^\]]*)\]`)
)

func parseHelp(t *testing.T, version string) help {
	t.Helper()
	text := string(readFixture(t, "tools/rootlesskit-"+version+".help"))
	h := help{flags: map[string]bool{}, nets: map[string]bool{}, ports: map[string]bool{}}
	for _, f := range flagRE.FindAllString(text, -1) {
		h.flags[f] = true
	}
	for _, line := range strings.Split(text, "\n") {
		var into map[string]bool
		switch {
		case strings.Contains(line, "--net value"):
			into = h.nets
		case strings.Contains(line, "--port-driver value"):
			into = h.ports
		default:
			continue
		}
		m := listRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: no list in %q", version, line)
		}
		for _, item := range strings.Split(m[1], ",") {
			item = strings.TrimSpace(item)
			item, _, _ = strings.Cut(item, "(")
			into[strings.TrimSpace(item)] = true
		}
	}
	if len(h.nets) == 0 || len(h.ports) == 0 {
		t.Fatalf("%s: no --net or --port-driver list", version)
	}
	return h
}

// accepts reports the first flag of f that rootlesskit with help h would
// not accept, or "".
func (h help) rejects(f []string) string {
	for _, s := range f {
		name, val, _ := strings.Cut(s, "=")
		if !h.flags[name] {
			return name
		}
		if name == "--net" && !h.nets[val] {
			return s
		}
		if name == "--port-driver" && !h.ports[val] {
			return s
		}
	}
	return ""
}

// TestFlagsAgainstRealHelp checks the version gates against the flags and
// driver lists of real rootlesskit binaries: every flag produced for a
// version is listed by that version's --help, and every version a driver
// is refused for lacks something the driver needs.
func TestFlagsAgainstRealHelp(t *testing.T) {
	for _, vs := range helpVersions {
		h := parseHelp(t, vs)
		v, _ := netdriver.ParseVersion(vs)
		for _, c := range flagCases() {
			for _, port := range portNames {
				f, err := c.d.Flags(v, port)
				if err == nil {
					if r := h.rejects(f); r != "" {
						t.Errorf("%s with port %q for RootlessKit %s: %s is not in its --help", c.name, port, vs, r)
					}
					continue
				}
				if !errors.Is(err, netdriver.IDRootlessKitTooOld) {
					continue
				}
				// Refused as too old: the newest version must accept it, and
				// this version's help must lack the driver or a flag.
				newest, nerr := c.d.Flags(netdriver.LinkedRootlessKit, port)
				if errors.Is(nerr, netdriver.IDEmbeddedOnly) {
					continue // no rootlesskit command runs it (TestFlagsPastaBuiltin)
				}
				if nerr != nil {
					t.Errorf("%s with port %q: refused for %s and for Embedded: %v", c.name, port, vs, nerr)
					continue
				}
				missing := h.rejects(newest)
				if port != "" && !h.ports[port] {
					missing = "--port-driver=" + port
				}
				if missing == "" {
					t.Errorf("%s with port %q: refused for RootlessKit %s (%v), but its --help has everything: %q", c.name, port, vs, err, newest)
				}
			}
		}
	}
}

// TestExplicitMTU is moby#47765: choosing a driver explicitly must keep
// its 65520 default, not fall back to RootlessKit's 1500.
func TestExplicitMTU(t *testing.T) {
	for _, d := range []netdriver.Driver{netdriver.Slirp4netns{}, netdriver.Pasta{}, netdriver.GVisorTapVsock{}} {
		f, err := d.Flags(netdriver.LinkedRootlessKit, "")
		if err != nil || !slices.Contains(f, "--mtu=65520") {
			t.Errorf("%s: %q, %v; want --mtu=65520", d.Name(), f, err)
		}
		if p := d.Properties(); p.MTU != 65520 || p.DefaultMTU != 65520 {
			t.Errorf("%s: MTU %d / %d", d.Name(), p.MTU, p.DefaultMTU)
		}
	}
	for _, d := range []netdriver.Driver{netdriver.VPNKit{}, netdriver.LXCUserNIC{}} {
		if f, _ := d.Flags(netdriver.LinkedRootlessKit, ""); !slices.Contains(f, "--mtu=1500") {
			t.Errorf("%s: %q; want --mtu=1500", d.Name(), f)
		}
	}
}

func TestFlagsIncompatiblePort(t *testing.T) {
	_, err := netdriver.LXCUserNIC{}.Flags(netdriver.LinkedRootlessKit, portdriver.NameImplicit)
	if !errors.Is(err, netdriver.IDIncompatible) {
		t.Fatalf("lxc-user-nic+implicit: %v", err)
	}
	if want := "use port driver builtin or none with network \"lxc-user-nic\""; !strings.Contains(diag.Remedy(err), want) {
		t.Errorf("remedy %q lacks %q", diag.Remedy(err), want)
	}
}

// TestFlagsPastaBuiltin: the rootlesskit command refuses the builtin port driver with pasta
// (v3.3.0 cmd/rootlesskit/main.go: network "pasta" requires port driver "none" or "implicit" or
// "pesto"), while RootlessKit's library runs the pair, so only the embedded engine has it.
func TestFlagsPastaBuiltin(t *testing.T) {
	if p := (netdriver.Pasta{}).Properties(); !slices.Contains(p.PortDrivers, portdriver.NameBuiltin) {
		t.Errorf("pasta's port drivers %q lack builtin, which the embedded engine runs", p.PortDrivers)
	}
	for _, v := range []netdriver.Version{{Major: 2}, netdriver.LinkedRootlessKit} {
		_, err := netdriver.Pasta{}.Flags(v, portdriver.NameBuiltin)
		if !errors.Is(err, netdriver.IDEmbeddedOnly) {
			t.Errorf("%s: pasta+builtin flags: %v; want %s", v, err, netdriver.IDEmbeddedOnly)
			continue
		}
		if r := diag.Remedy(err); !strings.Contains(r, "embedded engine") || !strings.Contains(r, "implicit") {
			t.Errorf("%s: remedy %q names neither the embedded engine nor implicit", v, r)
		}
	}
}

func TestDetachNetNSFlags(t *testing.T) {
	if f, err := netdriver.DetachNetNSFlags(netdriver.LinkedRootlessKit, netdriver.Slirp4netns{}); err != nil || !slices.Equal(f, []string{"--detach-netns"}) {
		t.Errorf("got %q, %v", f, err)
	}
	if _, err := netdriver.DetachNetNSFlags(netdriver.Version{Major: 1, Minor: 1}, netdriver.Slirp4netns{}); !errors.Is(err, netdriver.IDRootlessKitTooOld) || !strings.Contains(err.Error(), "--detach-netns needs RootlessKit 2.0.0") {
		t.Errorf("1.1.0: %v", err)
	}
	if _, err := netdriver.DetachNetNSFlags(netdriver.LinkedRootlessKit, netdriver.Slirp4netns{Sandbox: netdriver.True}); !errors.Is(err, netdriver.IDInvalidConfig) {
		t.Errorf("sandbox: %v", err)
	}
	if _, err := netdriver.DetachNetNSFlags(netdriver.LinkedRootlessKit, netdriver.HostNetwork{}); err == nil {
		t.Errorf("host network: no error")
	}
	h := parseHelp(t, "2.0.0")
	if !h.flags["--detach-netns"] || parseHelp(t, "1.1.0").flags["--detach-netns"] {
		t.Errorf("fixtures disagree with the 2.0 gate for --detach-netns")
	}
}
