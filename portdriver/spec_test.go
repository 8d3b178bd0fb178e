package portdriver_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/portutil"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

func TestParseSpec(t *testing.T) {
	ap := netip.MustParseAddrPort
	a := netip.MustParseAddr
	for _, tt := range []struct {
		in   string
		want portdriver.Spec
		str  string
	}{
		{in: "8080:80", want: portdriver.Spec{Parent: netip.AddrPortFrom(netip.Addr{}, 8080), ChildPort: 80, Proto: "tcp"}, str: "8080:80/tcp"},
		{in: "8080:80/udp", want: portdriver.Spec{Parent: netip.AddrPortFrom(netip.Addr{}, 8080), ChildPort: 80, Proto: "udp"}},
		{in: "127.0.0.1:8080:80/tcp", want: portdriver.Spec{Parent: ap("127.0.0.1:8080"), ChildPort: 80, Proto: "tcp"}},
		{in: "[::1]:8080:80/tcp6", want: portdriver.Spec{Parent: ap("[::1]:8080"), ChildPort: 80, Proto: "tcp6"}},
		{in: "0.0.0.0:80:10.0.2.100:8080/udp4", want: portdriver.Spec{Parent: ap("0.0.0.0:80"), ChildIP: a("10.0.2.100"), ChildPort: 8080, Proto: "udp4"}},
		{in: "[::]:8443:[::1]:443/tcp", want: portdriver.Spec{Parent: ap("[::]:8443"), ChildIP: a("::1"), ChildPort: 443, Proto: "tcp"}},
		{in: "::ffff:1.2.3.4:1:2", want: portdriver.Spec{}, str: "error"},
		{in: "[::ffff:1.2.3.4]:1:2/tcp4", want: portdriver.Spec{Parent: ap("1.2.3.4:1"), ChildPort: 2, Proto: "tcp4"}, str: "1.2.3.4:1:2/tcp4"},
		{in: "65535:1", want: portdriver.Spec{Parent: netip.AddrPortFrom(netip.Addr{}, 65535), ChildPort: 1, Proto: "tcp"}, str: "65535:1/tcp"},
	} {
		got, err := portdriver.ParseSpec(tt.in)
		if tt.str == "error" {
			if err == nil {
				t.Errorf("ParseSpec(%q) = %v; want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSpec(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
			continue
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got.String() != str {
			t.Errorf("String() = %q; want %q", got.String(), str)
		}
	}
	for _, bad := range []string{
		"", "80", "8080:80/sctp", "8080:80/TCP", "0:80", "8080:0", "70000:80", "8080-8090:80", "a:b",
		"::1:8080:80", "[::1:8080:80", "[::1]x:8080:80", "[8080]:80", "8080:[80]", "1.2.3.4:8080:80/tcp6",
		"[::1]:8080:80/tcp4", "fe80::1%eth0:1:2", "[fe80::1%eth0]:1:2", "1.2.3.4:8080:80:", ":8080:80",
		"1.2.3.4:1:2:3:4", "1.2.3.4:8080:10.0.2.100:80/udp6", "+80:80", "080000:80",
	} {
		if got, err := portdriver.ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) = %v; want an error", bad, got)
		}
	}
}

// TestParseSpecAgreesWithRootlessKit checks that specs with a parent IP
// parse as RootlessKit's own --publish parser reads them.
func TestParseSpecAgreesWithRootlessKit(t *testing.T) {
	for _, in := range []string{
		"127.0.0.1:8080:80/tcp", "0.0.0.0:53:53/udp", "[::1]:8080:80/tcp6", "0.0.0.0:80:10.0.2.100:8080/udp4", "[::]:8443:[::1]:443/tcp",
	} {
		ours, err := portdriver.ParseSpec(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		theirs, err := portutil.ParsePortSpec(in)
		if err != nil {
			t.Fatalf("%s: rootlesskit: %v", in, err)
		}
		if ours.RootlessKit() != *theirs {
			t.Errorf("%s: ours %+v, RootlessKit's %+v", in, ours.RootlessKit(), *theirs)
		}
		back, err := portdriver.FromRootlessKit(*theirs)
		if err != nil || back != ours {
			t.Errorf("%s: FromRootlessKit = %v, %v", in, back, err)
		}
	}
}

func TestSpecRootlessKit(t *testing.T) {
	s := portdriver.Spec{Parent: netip.AddrPortFrom(netip.Addr{}, 80), ChildPort: 8080}
	if got := s.RootlessKit(); got != (port.Spec{Proto: "tcp", ParentPort: 80, ChildPort: 8080}) {
		t.Errorf("got %+v", got)
	}
	if err := portutil.ValidatePortSpec(s.RootlessKit(), nil); err != nil {
		t.Errorf("RootlessKit rejects it: %v", err)
	}
	for _, bad := range []port.Spec{
		{Proto: "tcp", ParentPort: 0, ChildPort: 1}, {Proto: "sctp", ParentPort: 1, ChildPort: 1},
		{Proto: "tcp", ParentIP: "x", ParentPort: 1, ChildPort: 1}, {Proto: "tcp4", ParentIP: "::1", ParentPort: 1, ChildPort: 1},
		{Proto: "tcp", ParentPort: 1, ChildPort: 70000},
	} {
		if s, err := portdriver.FromRootlessKit(bad); err == nil {
			t.Errorf("FromRootlessKit(%+v) = %v; want an error", bad, s)
		}
	}
	if err := (portdriver.Spec{Parent: netip.AddrPortFrom(netip.MustParseAddr("::ffff:1.2.3.4"), 1), ChildPort: 1}).Validate(); err == nil {
		t.Errorf("4in6 parent accepted")
	}
	// A child address without a parent address prints the unspecified one.
	s = portdriver.Spec{Parent: netip.AddrPortFrom(netip.Addr{}, 80), ChildIP: netip.MustParseAddr("::1"), ChildPort: 80}
	if s.String() != "[::]:80:[::1]:80/tcp" {
		t.Errorf("String() = %q", s.String())
	}
}

func TestPublishFlags(t *testing.T) {
	specs := []portdriver.Spec{
		{Parent: netip.AddrPortFrom(netip.Addr{}, 8080), ChildPort: 80, Proto: "tcp"},
		{Parent: netip.MustParseAddrPort("[::1]:53"), ChildPort: 53, Proto: "udp6"},
	}
	f, err := portdriver.PublishFlags(portdriver.Builtin{}, specs...)
	want := []string{"--publish=0.0.0.0:8080:80/tcp", "--publish=[::1]:53:53/udp6"}
	if err != nil || !slices.Equal(f, want) {
		t.Errorf("got %q, %v; want %q", f, err, want)
	}
	for _, s := range f {
		if _, err := portutil.ParsePortSpec(strings.TrimPrefix(s, "--publish=")); err != nil {
			t.Errorf("RootlessKit cannot parse %s: %v", s, err)
		}
	}
	if _, err := portdriver.PublishFlags(portdriver.Slirp4netns{}, specs...); !errors.Is(err, netdriver.IDUnsupported) {
		t.Errorf("udp6 with slirp4netns: %v", err)
	}
	if _, err := portdriver.PublishFlags(portdriver.Implicit{}, specs...); !errors.Is(err, netdriver.IDNoPortAPI) {
		t.Errorf("implicit: %v", err)
	}
	if f, err := portdriver.PublishFlags(portdriver.None{}); err != nil || len(f) != 0 {
		t.Errorf("no specs: %q, %v", f, err)
	}
}

func TestParseFileCaps(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "caps", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tt := range []struct {
		file     string
		has      bool
		rev      int
		rootID   uint32
		permBind bool
	}{
		{"net_bind_service-ep.bin", true, 2, 0, true},
		{"net_bind_service-p.bin", false, 2, 0, true},
		{"net_raw-admin-ep.bin", false, 2, 0, false},
		{"net_bind_service-ep-ns100000.bin", true, 3, 100000, true},
	} {
		c, err := portdriver.ParseFileCaps(read(tt.file))
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		if c.Has(portdriver.CapNetBindService) != tt.has || c.Revision != tt.rev || c.RootID != tt.rootID || (c.Permitted&(1<<10) != 0) != tt.permBind {
			t.Errorf("%s: %+v", tt.file, c)
		}
	}
	c, _ := portdriver.ParseFileCaps(read("net_raw-admin-ep.bin"))
	if !c.Has(12) || !c.Has(13) || c.Has(64) || c.Has(-1) {
		t.Errorf("net_raw (13) and net_admin (12): %+v", c)
	}
	for _, bad := range [][]byte{nil, {1, 0, 0}, {1, 0, 0, 2}, {1, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0}, append([]byte{3, 0, 0, 2}, make([]byte, 16)...)} {
		if c, err := portdriver.ParseFileCaps(bad); err == nil {
			t.Errorf("ParseFileCaps(%x) = %+v; want an error", bad, c)
		}
	}
}
