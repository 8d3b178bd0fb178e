package netdriver_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/netdriver/netdrivertest"
)

// builtins are zero and configured values of every driver of the package.
func builtins() []netdriver.Driver {
	cidr := netip.MustParsePrefix("10.0.3.0/24")
	return []netdriver.Driver{
		netdriver.Slirp4netns{},
		netdriver.Slirp4netns{MTU: 1500, CIDR: cidr, HostLoopback: true, IPv6: true, Sandbox: netdriver.False, Seccomp: netdriver.Auto, IfName: "tap1"},
		&netdriver.Slirp4netns{Binary: "/opt/bin/slirp4netns"},
		netdriver.Pasta{},
		netdriver.Pasta{MTU: 9000, CIDR: cidr, HostLoopback: true, IPv6: true},
		netdriver.VPNKit{},
		netdriver.VPNKit{HostLoopback: true, MTU: 1500},
		netdriver.LXCUserNIC{},
		netdriver.LXCUserNIC{Bridge: "br1", MTU: 9000},
		netdriver.GVisorTapVsock{},
		netdriver.GVisorTapVsock{HostLoopback: true, MTU: 1500},
		netdriver.None{},
		netdriver.HostNetwork{},
	}
}

func TestConformance(t *testing.T) {
	for _, d := range builtins() {
		enc, _ := netdriver.Encode(d)
		t.Run(strings.ReplaceAll(string(enc), "/", "_"), func(t *testing.T) {
			netdrivertest.Run(t, func() netdriver.Driver { return d })
		})
	}
}

// thirdParty is a driver from outside this package.
type thirdParty struct{ netdriver.Slirp4netns }

func (thirdParty) Name() string { return "my-slirp" }

func TestConformanceThirdParty(t *testing.T) {
	netdrivertest.Run(t, func() netdriver.Driver { return thirdParty{} })
	if _, err := netdriver.Encode(thirdParty{}); !errors.Is(err, netdriver.IDNotBuiltin) {
		t.Errorf("Encode(third party) = %v; want %s", err, netdriver.IDNotBuiltin)
	}
}

func TestCodec(t *testing.T) {
	for _, d := range builtins() {
		b, err := netdriver.Encode(d)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", d, err)
		}
		got, err := netdriver.Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		if got.Name() != d.Name() {
			t.Errorf("%s decoded as %s", b, got.Name())
		}
		b2, _ := netdriver.Encode(got)
		if string(b2) != string(b) {
			t.Errorf("re-encoded %s as %s", b, b2)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{`{"driver":"pasta"}`, `{"driver":"pasta"}`},
		{`{"driver":"pasta","config":{}}`, `{"driver":"pasta"}`},
		{`{"driver":"pasta","config":null}`, `{"driver":"pasta"}`},
		{`{"driver":"slirp4netns","config":{"cidr":"10.0.3.0/24","mtu":1500}}`, `{"driver":"slirp4netns","config":{"mtu":1500,"cidr":"10.0.3.0/24"}}`},
	} {
		d, err := netdriver.Decode([]byte(tt.in))
		if err != nil {
			t.Errorf("Decode(%s): %v", tt.in, err)
			continue
		}
		if b, _ := netdriver.Encode(d); string(b) != tt.want {
			t.Errorf("Decode(%s) re-encodes as %s; want %s", tt.in, b, tt.want)
		}
	}
	for _, bad := range []string{
		``, `null`, `[]`, `{"driver":"slirp"}`, `{"driver":"pasta","config":{"mtuu":1}}`,
		`{"driver":"pasta","extra":1}`, `{"driver":"pasta"} {}`, `{"driver":"slirp4netns","config":{"cidr":"bad"}}`,
		`{"driver":"none","config":{"x":1}}`,
	} {
		if d, err := netdriver.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) = %#v; want an error", bad, d)
		}
	}
	var nilPtr *netdriver.Pasta
	if b, err := netdriver.Encode(nilPtr); err != nil || string(b) != `{"driver":"pasta"}` {
		t.Errorf("Encode(nil *Pasta) = %s, %v", b, err)
	}
	if _, err := netdriver.Encode(nil); !errors.Is(err, netdriver.IDNotBuiltin) {
		t.Errorf("Encode(nil) = %v", err)
	}
}
