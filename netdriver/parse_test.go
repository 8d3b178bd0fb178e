package netdriver_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
)

func TestParseVersion(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want netdriver.Version
		bad  bool
	}{
		{in: "rootlesskit version 1.1.0\n", want: netdriver.Version{Major: 1, Minor: 1}},
		{in: "rootlesskit version 3.3.0", want: netdriver.Version{Major: 3, Minor: 3}},
		{in: "\n  rootlesskit version 2.3.6  \nmore", want: netdriver.Version{Major: 2, Minor: 3, Patch: 6}},
		{in: "3.0.1+dev", want: netdriver.Version{Major: 3, Patch: 1}},
		{in: "v3.0.0-rc.0", want: netdriver.Version{Major: 3}},
		{in: "slirp4netns version 1.2.0\ncommit: 656041d", want: netdriver.Version{Major: 1, Minor: 2}},
		{in: "", bad: true},
		{in: "rootlesskit version", bad: true},
		{in: "rootlesskit version 1.1", bad: true},
		{in: "rootlesskit version 1.1.x", bad: true},
		{in: "rootlesskit version +1.1.0", bad: true},
		{in: "1.-1.0", bad: true},
		{in: "1..0", bad: true},
		{in: "9999999999.0.0", bad: true},
		{in: "pasta unknown version", bad: true},
	} {
		got, err := netdriver.ParseVersion(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseVersion(%q) = %v; want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseVersionFixtures(t *testing.T) {
	for _, v := range []string{"1.1.0", "2.0.0", "2.3.6", "3.0.0", "3.1.0", "3.3.0"} {
		got, err := netdriver.ParseVersion(string(readFixture(t, "tools/rootlesskit-"+v+".version")))
		if err != nil || got.String() != v {
			t.Errorf("rootlesskit-%s.version: got %v, %v", v, got, err)
		}
	}
	if netdriver.LinkedRootlessKit.String() != "3.3.0" {
		t.Errorf("Embedded = %v; want 3.3.0 (the linked rootlesskit/v3 module)", netdriver.LinkedRootlessKit)
	}
}

func TestVersionCompare(t *testing.T) {
	a, b := netdriver.Version{Major: 2, Minor: 10}, netdriver.Version{Major: 2, Minor: 9, Patch: 9}
	if a.Compare(b) != 1 || b.Compare(a) != -1 || a.Compare(a) != 0 || !a.AtLeast(b) || b.AtLeast(a) {
		t.Errorf("Compare/AtLeast wrong for %v and %v", a, b)
	}
	if !(netdriver.Version{}).IsZero() || a.IsZero() {
		t.Errorf("IsZero wrong")
	}
}

func TestRequireVersion(t *testing.T) {
	err := netdriver.RequireVersion("gvisor-tap-vsock", "--net=gvisor-tap-vsock", netdriver.Version{Major: 1, Minor: 1}, netdriver.Version{Major: 3})
	if !errors.Is(err, netdriver.IDRootlessKitTooOld) {
		t.Fatalf("got %v; want %s", err, netdriver.IDRootlessKitTooOld)
	}
	want := "netdriver.rootlesskit-too-old: gvisor-tap-vsock: --net=gvisor-tap-vsock needs RootlessKit 3.0.0 or later; have 1.1.0 (fix: upgrade RootlessKit to 3.0.0 or later, or use the embedded engine (RootlessKit 3.3.0))"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	if err := netdriver.RequireVersion("", "x", netdriver.Version{}, netdriver.Version{Major: 1}); !errors.Is(err, netdriver.IDRootlessKitUnknown) {
		t.Errorf("zero version: got %v", err)
	}
	if err := netdriver.RequireVersion("", "x", netdriver.Version{Minor: 14}, netdriver.Version{}); !errors.Is(err, netdriver.IDRootlessKitTooOld) {
		t.Errorf("0.14.0: got %v; want too old", err)
	}
	if err := netdriver.RequireVersion("", "x", netdriver.LinkedRootlessKit, netdriver.Version{Major: 3}); err != nil {
		t.Errorf("Embedded: %v", err)
	}
}

func TestRootlessKitVersion(t *testing.T) {
	h := ordinary().with("/usr/bin/rootlesskit").out("/usr/bin/rootlesskit --version", "fixture:rootlesskit-1.1.0.version").host(t)
	v, err := netdriver.RootlessKitVersion(t.Context(), h, "")
	if err != nil || v != (netdriver.Version{Major: 1, Minor: 1}) {
		t.Errorf("got %v, %v", v, err)
	}
	if _, err := netdriver.RootlessKitVersion(t.Context(), h, "/opt/rootlesskit"); !errors.Is(err, netdriver.IDBinaryMissing) {
		t.Errorf("missing binary: got %v", err)
	}
}

func TestParseSlirp4netnsHelp(t *testing.T) {
	f := netdriver.ParseSlirp4netnsHelp(readFixture(t, "tools/slirp4netns-1.2.0.help"))
	want := netdriver.Slirp4netnsFeatures{NetnsType: true, EnableIPv6: true, CIDR: true, DisableHostLoopback: true, APISocket: true, EnableSandbox: true, EnableSeccomp: true}
	if f != want {
		t.Errorf("1.2.0: %+v", f)
	}
	f = netdriver.ParseSlirp4netnsHelp(readFixture(t, "tools/slirp4netns-0.3.0.help"))
	want = netdriver.Slirp4netnsFeatures{EnableIPv6: true, CIDR: true, DisableHostLoopback: true, APISocket: true}
	if f != want {
		t.Errorf("0.3.0: %+v", f)
	}
	// Whole words only, as grep -w.
	for _, s := range []string{"--netns-types", "x--netns-type", "--netns-type_x", "---netns-type"} {
		if netdriver.ParseSlirp4netnsHelp([]byte(s)).NetnsType {
			t.Errorf("%q counted as --netns-type", s)
		}
	}
	for _, s := range []string{"--netns-type", "--netns-type=TYPE", " --netns-type\t", "(--netns-type)"} {
		if !netdriver.ParseSlirp4netnsHelp([]byte(s)).NetnsType {
			t.Errorf("%q not counted as --netns-type", s)
		}
	}
}

func TestParseSlirp4netnsVersion(t *testing.T) {
	for fixture, want := range map[string]string{"slirp4netns-1.2.0.version": "1.2.0", "slirp4netns-0.3.0.version": "0.3.0"} {
		v, err := netdriver.ParseSlirp4netnsVersion(readFixture(t, "tools/"+fixture))
		if err != nil || v.String() != want {
			t.Errorf("%s: %v, %v", fixture, v, err)
		}
	}
	for _, bad := range []string{"", "pasta 2025_01_21", "slirp4netns version x"} {
		if _, err := netdriver.ParseSlirp4netnsVersion([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParsePastaVersion(t *testing.T) {
	for _, tt := range []struct {
		fixture, in string
		known       bool
		str         string
		implicit    bool
		pesto       bool
	}{
		{fixture: "pasta-debian-unknown.version", known: false, str: "unknown version"},
		{fixture: "pasta-2023_06_27.version", known: true, str: "2023_06_27.289301b"},
		{fixture: "pasta-2025_01_21.version", known: true, str: "2025_01_21.4f2c8e7", implicit: true},
		{fixture: "pasta-2026_05_07.version", known: true, str: "2026_05_07.1afd4ed", implicit: true, pesto: true},
		{fixture: "pasta-debian-sid-2026_10_02.version", known: true, str: "2026_10_02.cba3570", implicit: true, pesto: true},
		{fixture: "pasta-fedora-el9.version", known: true, str: "2024_06_24.1ee2eca", implicit: true},
		{fixture: "pasta-fedora-fc44.version", known: true, str: "2026_07_28.f8df3f1", implicit: true, pesto: true},
		{in: "passt 2024_10_30.ee7d0b6-12-gabcdef0", known: true, str: "2024_10_30.ee7d0b6", implicit: true},
		{in: "pasta 0.0~git20250503.1234abc-1", known: true, str: "2025_05_03.1234abc", implicit: true},
		{in: "pasta 2025_13_40.deadbee", known: false, str: "2025_13_40.deadbee"},
		{in: "pasta custom-build", known: false, str: "custom-build"},
	} {
		in := []byte(tt.in)
		if tt.fixture != "" {
			in = readFixture(t, "tools/"+tt.fixture)
		}
		v, err := netdriver.ParsePastaVersion(in)
		if err != nil {
			t.Errorf("%s%s: %v", tt.fixture, tt.in, err)
			continue
		}
		if v.Known() != tt.known || v.String() != tt.str || v.AtLeast(netdriver.PastaImplicit) != tt.implicit || v.AtLeast(netdriver.PastaPesto) != tt.pesto {
			t.Errorf("%s%s: known=%v %q implicit=%v pesto=%v", tt.fixture, tt.in, v.Known(), v, v.AtLeast(netdriver.PastaImplicit), v.AtLeast(netdriver.PastaPesto))
		}
	}
	for _, bad := range []string{"", "slirp4netns version 1.2.0", "\n\n"} {
		if _, err := netdriver.ParsePastaVersion([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseLXCUserNet(t *testing.T) {
	got := netdriver.ParseLXCUserNet(strings.NewReader("# USERNAME TYPE BRIDGE COUNT\nalice veth lxcbr0 2\n@staff veth br1 1 # group\nbroken line\nbob veth lxcbr0 x\n"))
	want := []netdriver.LXCUserNetEntry{{Who: "alice", Type: "veth", Bridge: "lxcbr0", Count: 2}, {Who: "@staff", Type: "veth", Bridge: "br1", Count: 1}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v", got)
	}
}

func TestParseRoutes(t *testing.T) {
	rts, err := netdriver.ParseRoutes(strings.NewReader(string(readFixture(t, "route/testbed-eth0-1400.route"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(rts) != 2 {
		t.Fatalf("got %d routes", len(rts))
	}
	if !rts[0].IsDefault() || rts[0].Iface != "eth0" || rts[0].Gateway != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("default route: %+v", rts[0])
	}
	if rts[1].IsDefault() || rts[1].Destination != netip.MustParsePrefix("192.0.2.0/24") {
		t.Errorf("link route: %+v", rts[1])
	}
	for _, bad := range []string{
		"Iface\tDestination\nbad\n",
		"eth0 0000000 010200C0 0003 0 0 0 00000000 0 0 0",
		"eth0 00000000 010200C0 0003 0 0 0 00FF00FF 0 0 0",
		"../x 00000000 010200C0 0003 0 0 0 00000000 0 0 0",
		"eth0 00000000 010200C0 0003 0 0 -1 00000000 0 0 0",
	} {
		if _, err := netdriver.ParseRoutes(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

const routeHeader = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"

func TestDefaultRoute(t *testing.T) {
	for _, tt := range []struct {
		name   string
		route  string
		mtus   map[string]string
		want   netdriver.DefaultRoute
		errStr string
	}{
		{name: "testbed", route: "fixture:route/testbed-eth0-1400.route", mtus: map[string]string{"eth0": "1400\n"}, want: netdriver.DefaultRoute{Iface: "eth0", MTU: 1400}},
		{name: "lowest metric wins", route: routeHeader +
			"wg0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0\n" +
			"eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
			mtus: map[string]string{"wg0": "1420", "eth0": "9000"}, want: netdriver.DefaultRoute{Iface: "wg0", MTU: 1420}},
		{name: "route MTU column", route: routeHeader + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t1450\t0\t0\n",
			mtus: map[string]string{"eth0": "1500"}, want: netdriver.DefaultRoute{Iface: "eth0", MTU: 1450}},
		{name: "down route ignored", route: routeHeader + "eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n",
			mtus: map[string]string{"eth0": "1500"}, errStr: "no IPv4 default route"},
		{name: "missing mtu file", route: routeHeader + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
			errStr: "MTU of eth0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeHost{}.file("/proc/net/route", tt.route)
			for ifc, m := range tt.mtus {
				f = f.file("/sys/class/net/"+ifc+"/mtu", m)
			}
			got, err := f.host(t).DefaultRoute()
			if tt.errStr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errStr) {
					t.Fatalf("got %v, %v; want error containing %q", got, err, tt.errStr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := (fakeHost{}).host(t).DefaultRoute(); err == nil {
		t.Errorf("no /proc/net/route: no error")
	}
}

func TestSysctlAndLookPath(t *testing.T) {
	h := ordinary().file("/proc/sys/net/ipv4/ip_unprivileged_port_start", "1024\n").host(t)
	if v, err := h.Sysctl("net.ipv4.ip_unprivileged_port_start"); err != nil || v != "1024" {
		t.Errorf("Sysctl = %q, %v", v, err)
	}
	for _, bad := range []string{"", "../etc/passwd", "a/b", "a b"} {
		if _, err := h.Sysctl(bad); err == nil {
			t.Errorf("Sysctl(%q): no error", bad)
		}
	}
	if p, err := h.LookPath("ip"); err != nil || p != "/usr/bin/ip" {
		t.Errorf("LookPath(ip) = %q, %v", p, err)
	}
	if _, err := h.LookPath("relative/ip"); err == nil {
		t.Errorf("LookPath(relative/ip): no error")
	}
	if _, err := h.LookPath("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		t.Errorf("LookPath(non-executable): no error")
	}
	var nilHost *netdriver.Host
	if _, err := nilHost.LookPath("ip"); err == nil {
		t.Errorf("nil host LookPath: no error")
	}
	if _, err := nilHost.Output(t.Context(), "/usr/bin/ip"); err == nil {
		t.Errorf("nil host Output: no error")
	}
}
