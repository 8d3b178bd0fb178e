package netdriver_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
)

var v110 = netdriver.Version{Major: 1, Minor: 1}

func TestSelect(t *testing.T) {
	both := slirpHost("0.3.0").with("/usr/bin/pasta").out("/usr/bin/pasta --version", "fixture:pasta-2025_01_21.version")
	routed := slirpHost("1.2.0").
		file("/proc/net/route", "fixture:route/testbed-eth0-1400.route").
		file("/sys/class/net/eth0/mtu", "1400\n")
	for _, tt := range []struct {
		name      string
		host      fakeHost
		prefs     netdriver.Preferences
		net, port string
		mtu       int
		gw        string
		noProxy   bool
		reasons   []string // substrings, in order
		warnings  int
		warnIn    []string // substrings of the warnings
		errIs     error
	}{
		{name: "docker default", host: slirpHost("1.2.0"), net: "slirp4netns", port: "builtin", mtu: 65520,
			reasons: []string{"slirp4netns 1.2.0 supports --netns-type; chosen first per Docker's order", "port driver builtin: the default for slirp4netns", "MTU 65520: the default for slirp4netns"}},
		{name: "old slirp4netns, pasta next", host: both, net: "pasta", port: "implicit", mtu: 65520,
			reasons: []string{"skipped slirp4netns:", "seems older than v0.4.0", "pasta 2025_01_21.4f2c8e7", "chosen as number 2 in Docker's order", "port driver implicit"}},
		{name: "debian pasta: unknown version is a warning", host: pastaHost("pasta-debian-unknown.version"), net: "pasta", port: "implicit", mtu: 65520, warnings: 2,
			reasons: []string{"skipped slirp4netns", "pasta of unknown release"}},
		{name: "vpnkit", host: ordinary().with("/usr/bin/vpnkit"), net: "vpnkit", port: "builtin", mtu: 1500,
			reasons: []string{"skipped slirp4netns", "skipped pasta", "vpnkit found at /usr/bin/vpnkit; chosen as number 3"}},
		{name: "nothing installed: embedded gvisor-tap-vsock", host: ordinary(), net: "gvisor-tap-vsock", port: "builtin", mtu: 65520,
			reasons: []string{"skipped slirp4netns", "skipped pasta", "skipped vpnkit", "gvisor-tap-vsock runs inside RootlessKit (no program needed); chosen as number 4"}},
		{name: "nothing installed, RootlessKit 1.1.0", host: ordinary(), prefs: netdriver.Preferences{RootlessKit: v110}, errIs: netdriver.IDRootlessKitTooOld},
		{name: "source IP on RootlessKit 3", host: slirpHost("1.2.0"), prefs: netdriver.Preferences{SourceIP: true}, net: "slirp4netns", port: "builtin", mtu: 65520, noProxy: true,
			reasons: []string{"port driver builtin: keeps the client's source IP", "--userland-proxy=false"}},
		{name: "source IP on RootlessKit 1.1", host: slirpHost("1.2.0"), prefs: netdriver.Preferences{SourceIP: true, RootlessKit: v110}, net: "slirp4netns", port: "slirp4netns", mtu: 65520,
			reasons: []string{"port driver slirp4netns: keeps the client's source IP (slow; source IP kept)"}},
		{name: "source IP with vpnkit on 1.1 is impossible", host: ordinary().with("/usr/bin/vpnkit"), prefs: netdriver.Preferences{SourceIP: true, RootlessKit: v110}, errIs: netdriver.IDUnsupported},
		{name: "host loopback slirp4netns", host: slirpHost("1.2.0"), prefs: netdriver.Preferences{HostLoopback: true}, net: "slirp4netns", port: "builtin", mtu: 65520, gw: "10.0.2.2",
			reasons: []string{"host loopback allowed: containers reach the host's 127.0.0.1 at 10.0.2.2"}},
		{name: "host loopback pasta", host: pastaHost("pasta-2025_01_21.version"), prefs: netdriver.Preferences{HostLoopback: true}, net: "pasta", port: "implicit", mtu: 65520, gw: "10.0.2.2"},
		{name: "host loopback gvisor-tap-vsock", host: ordinary(), prefs: netdriver.Preferences{HostLoopback: true}, net: "gvisor-tap-vsock", port: "builtin", mtu: 65520, gw: "10.0.2.1"},
		{name: "host loopback vpnkit", host: ordinary().with("/usr/bin/vpnkit"), prefs: netdriver.Preferences{HostLoopback: true}, net: "vpnkit", port: "builtin", mtu: 1500, gw: "192.168.65.2"},
		{name: "IPv6 skips gvisor-tap-vsock", host: ordinary(), prefs: netdriver.Preferences{IPv6: true}, errIs: netdriver.IDUnsupported},
		{name: "IPv6 slirp4netns", host: slirpHost("1.2.0"), prefs: netdriver.Preferences{IPv6: true}, net: "slirp4netns", port: "builtin", mtu: 65520, reasons: []string{"IPv6 routing enabled"}},
		{name: "clamp MTU to the default route", host: routed, prefs: netdriver.Preferences{ClampMTU: true}, net: "slirp4netns", port: "builtin", mtu: 1400,
			reasons: []string{"MTU 1400: clamped from 65520 (the default for slirp4netns) to the MTU of the default route's interface eth0"}},
		{name: "clamp MTU: route unreadable is a warning", host: slirpHost("1.2.0"), prefs: netdriver.Preferences{ClampMTU: true}, net: "slirp4netns", port: "builtin", mtu: 65520, warnings: 1},
		{name: "explicit pasta keeps 65520 (moby#47765)", host: pastaHost("pasta-2025_01_21.version"), prefs: netdriver.Preferences{Network: netdriver.Pasta{}}, net: "pasta", port: "implicit", mtu: 65520,
			reasons: []string{"pasta 2025_01_21.4f2c8e7 (from \"/usr/bin/pasta --version\"); chosen explicitly"}},
		// RootlessKit before 2.3.2 does not pass --host-lo-to-ns-lo, which pasta 2024_10_30 needs for
		// loopback publishes (rootlesskit#482); before 3.1 it does not pass --tcp-ns=none with
		// --disable-host-loopback (rootlesskit#612).
		{name: "pasta on RootlessKit 2.3.1: loopback publishes reset, host loopback open", host: pastaHost("pasta-2025_01_21.version"),
			prefs: netdriver.Preferences{Network: netdriver.Pasta{}, RootlessKit: netdriver.Version{Major: 2, Minor: 3, Patch: 1}}, net: "pasta", port: "implicit", mtu: 65520,
			warnings: 2, warnIn: []string{"-p 127.0.0.1:", "RootlessKit 2.3.2", "reach the host's loopback", "RootlessKit 3.1.0"}},
		{name: "pasta 2024_06_24 on RootlessKit 2.3.1: loopback publishes work", host: pastaHost("pasta-fedora-el9.version"),
			prefs: netdriver.Preferences{Network: netdriver.Pasta{}, RootlessKit: netdriver.Version{Major: 2, Minor: 3, Patch: 1}}, net: "pasta", port: "implicit", mtu: 65520,
			warnings: 1, warnIn: []string{"RootlessKit 3.1.0"}},
		{name: "pasta on RootlessKit 3.0.0 with host loopback: nothing to close", host: pastaHost("pasta-2025_01_21.version"),
			prefs: netdriver.Preferences{Network: netdriver.Pasta{HostLoopback: true}, RootlessKit: netdriver.Version{Major: 3}}, net: "pasta", port: "implicit", mtu: 65520},
		{name: "pasta with pesto on RootlessKit 3.1.0", host: pastaHost("pasta-2026_05_07.version").with("/usr/bin/pesto"),
			prefs: netdriver.Preferences{Network: netdriver.Pasta{}, PortDriver: "pesto", RootlessKit: netdriver.Version{Major: 3, Minor: 1}}, net: "pasta", port: "pesto", mtu: 65520},
		{name: "explicit pesto too old", host: pastaHost("pasta-2025_01_21.version").with("/usr/bin/pesto"), prefs: netdriver.Preferences{Network: netdriver.Pasta{}, PortDriver: "pesto"}, errIs: netdriver.IDPastaTooOld},
		{name: "explicit incompatible port", host: pastaHost("pasta-2025_01_21.version"), prefs: netdriver.Preferences{Network: netdriver.Pasta{}, PortDriver: "slirp4netns"}, errIs: netdriver.IDIncompatible},
		{name: "pasta with builtin: the embedded engine only, a warning", host: pastaHost("pasta-2025_01_21.version"), prefs: netdriver.Preferences{Network: netdriver.Pasta{}, PortDriver: "builtin"},
			net: "pasta", port: "builtin", mtu: 65520, warnings: 1, reasons: []string{"port driver builtin: chosen explicitly"}},
		{name: "explicit host network", host: ordinary(), prefs: netdriver.Preferences{Network: netdriver.HostNetwork{}}, errIs: netdriver.IDHostNetwork},
		{name: "explicit lxc-user-nic with host loopback", host: ordinary(), prefs: netdriver.Preferences{Network: netdriver.LXCUserNIC{}, HostLoopback: true}, errIs: netdriver.IDUnsupported},
		{name: "custom order", host: slirpHost("1.2.0"), prefs: netdriver.Preferences{Order: []string{"gvisor-tap-vsock", "slirp4netns"}}, net: "gvisor-tap-vsock", port: "builtin", mtu: 65520,
			reasons: []string{"chosen first per the given order"}},
		{name: "unknown name in order", host: slirpHost("1.2.0"), prefs: netdriver.Preferences{Order: []string{"slirp"}}, errIs: netdriver.IDInvalidConfig},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := netdriver.Select(context.Background(), tt.host.host(t), tt.prefs)
			if tt.errIs != nil {
				if !errors.Is(err, tt.errIs) {
					t.Fatalf("Select = %+v, %v; want an error matching %v", sel, err, tt.errIs)
				}
				if netdriver.Remedy(err) == "" {
					t.Errorf("error without remedy: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if sel.Network.Name() != tt.net || sel.PortDriver != tt.port || sel.MTU != tt.mtu || sel.DisableUserlandProxy != tt.noProxy {
				t.Errorf("got %s+%s MTU %d noProxy %v; want %s+%s MTU %d noProxy %v", sel.Network.Name(), sel.PortDriver, sel.MTU, sel.DisableUserlandProxy, tt.net, tt.port, tt.mtu, tt.noProxy)
			}
			if sel.Network.Properties().MTU != sel.MTU {
				t.Errorf("Selection.MTU %d but the network's MTU is %d", sel.MTU, sel.Network.Properties().MTU)
			}
			if f, err := sel.Network.Flags(orV(tt.prefs.RootlessKit), sel.PortDriver); errors.Is(err, netdriver.IDEmbeddedOnly) {
				if !strings.Contains(strings.Join(sel.Warnings, "\n"), "embedded engine") {
					t.Errorf("an embedded-only choice without a warning naming the embedded engine: %q", sel.Warnings)
				}
			} else if err != nil || !slices.Contains(f, "--mtu="+strconv.Itoa(sel.MTU)) {
				t.Errorf("Flags = %q, %v; want --mtu=%d", f, err, sel.MTU)
			}
			var wantGW netip.Addr
			if tt.gw != "" {
				wantGW = netip.MustParseAddr(tt.gw)
			}
			if sel.HostGateway != wantGW {
				t.Errorf("HostGateway = %v; want %v", sel.HostGateway, wantGW)
			}
			all := strings.Join(sel.Reasons, "\n")
			pos := 0
			for _, r := range tt.reasons {
				i := strings.Index(all[pos:], r)
				if i < 0 {
					t.Errorf("reasons lack %q (in order):\n%s", r, all)
					break
				}
				pos += i + len(r)
			}
			if len(sel.Warnings) != tt.warnings {
				t.Errorf("warnings %q; want %d", sel.Warnings, tt.warnings)
			}
			for _, w := range tt.warnIn {
				if !strings.Contains(strings.Join(sel.Warnings, "\n"), w) {
					t.Errorf("warnings %q lack %q", sel.Warnings, w)
				}
			}
		})
	}
}

func orV(v netdriver.Version) netdriver.Version {
	if v.IsZero() {
		return netdriver.Embedded
	}
	return v
}

func TestSelectCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := netdriver.Select(ctx, slirpHost("1.2.0").host(t), netdriver.Preferences{}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want context.Canceled", err)
	}
}

func TestDefaultOrderIsDockers(t *testing.T) {
	want := []string{"slirp4netns", "pasta", "vpnkit", "gvisor-tap-vsock"}
	o := netdriver.DefaultOrder()
	if !slices.Equal(o, want) {
		t.Errorf("DefaultOrder = %q; want %q", o, want)
	}
	o[0] = "changed"
	if netdriver.DefaultOrder()[0] != "slirp4netns" {
		t.Errorf("DefaultOrder returned shared storage")
	}
}
