package rootless

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// networkOrder is the order in which the network drivers are tried when none is chosen:
// Docker's (dockerd-rootless.sh, 29.x): slirp4netns (0.4.0 or later), pasta, vpnkit, then the
// embedded gvisor-tap-vsock. This is the one place the order is kept. The test bed's
// throughput figures (README) agree with it: slirp4netns moves more than gvisor-tap-vsock.
func networkOrder() []string {
	return []string{netdriver.NameSlirp4netns, netdriver.NamePasta, netdriver.NameVPNKit, netdriver.NameGVisorTapVsock}
}

// wants is what the options ask of the drivers.
type wants struct {
	net  netdriver.Driver  // an explicit network driver, or nil for the first of networkOrder that works
	port portdriver.Driver // an explicit port driver, or nil for the network's default
	// settings go onto whichever network driver is chosen: the script's MTU, CIDR, interface
	// name and slirp4netns switches, and the host-loopback and IPv6 switches.
	settings netdriver.Settings
	sourceIP bool // keep the client's source IP on published ports
	clampMTU bool // lower the MTU to the default route's
}

// selection is what selectDrivers chose.
type selection struct {
	net      netdriver.Driver
	port     portdriver.Driver
	mtu      int
	gateway  netip.Addr // host loopback's address; invalid unless asked for
	proxyOff bool       // dockerd needs --userland-proxy=false (source IP with builtin)

	netReasons, portReasons, mtuReasons []string
	warnings                            []error
}

// selectDrivers picks the network and port drivers for RootlessKit v on h, in one pass: each
// candidate gets the settings, is checked once (its Check, then the port driver's, which
// includes the network's port-specific checks), and must meet the switches. Without an
// explicit network it tries networkOrder and keeps the first that works; the error then joins
// every candidate's problems under an IDNoUsableNetwork finding.
func selectDrivers(ctx context.Context, h *netdriver.Host, w wants, v netdriver.Version) (selection, error) {
	if w.net != nil {
		sel, err := consider(ctx, h, w, v, w.net)
		if err != nil {
			return selection{}, err
		}
		sel.netReasons[0] += "; chosen explicitly"
		return sel, nil
	}
	var skipped []string
	var errs []error
	for i, name := range networkOrder() {
		d, err := netdriver.Named(name)
		if err != nil {
			return selection{}, err
		}
		sel, err := consider(ctx, h, w, v, d)
		if cerr := ctx.Err(); cerr != nil {
			return selection{}, cerr
		}
		if err != nil {
			errs = append(errs, err)
			skipped = append(skipped, fmt.Sprintf("skipped %s: %s", name, firstDetail(err)))
			continue
		}
		pos := "chosen first in Docker's order"
		if i > 0 {
			pos = fmt.Sprintf("chosen as number %d in Docker's order (%s)", i+1, strings.Join(networkOrder(), ", "))
		}
		sel.netReasons[0] += "; " + pos
		sel.netReasons = append(skipped, sel.netReasons...)
		return sel, nil
	}
	return selection{}, diag.Join(append([]error{problem(IDNoUsableNetwork,
		"no network driver works on this host (tried "+strings.Join(networkOrder(), ", ")+"); the problems of each follow", strings.Join(skipped, "; "),
		"fix one of them: installing slirp4netns is the usual way (Debian/Ubuntu: sudo apt-get install slirp4netns; Fedora: sudo dnf install slirp4netns)")},
		errs...)...)
}

// warmDescribe runs, for the network driver selectDrivers tries first, the probes of
// netdriver.Describe, so that their answers are in h's memo when the selection asks; it
// decides nothing.
func warmDescribe(ctx context.Context, h *netdriver.Host, w wants) {
	d := w.net
	if d == nil {
		var err error
		if d, err = netdriver.Named(networkOrder()[0]); err != nil {
			return
		}
	}
	if d, err := netdriver.Apply(d, w.settings); err == nil {
		_ = netdriver.Describe(ctx, h, d)
	}
}

func firstDetail(err error) string {
	if fs := diag.List(err); len(fs) > 0 {
		return fs[0].Detail
	}
	return err.Error()
}

// consider applies the settings to d, picks its port driver, and checks both.
func consider(ctx context.Context, h *netdriver.Host, w wants, v netdriver.Version, d netdriver.Driver) (selection, error) {
	d, err := netdriver.Apply(d, w.settings)
	if err != nil {
		return selection{}, err
	}
	name := d.Name()
	props := d.Properties()
	if err := netdriver.RequireVersion(name, "--net="+name, v, props.MinRootlessKit); err != nil {
		return selection{}, err
	}
	port, portReason, proxyOff, err := choosePort(d, w, v)
	if err != nil {
		return selection{}, err
	}
	if err := netdriver.RequireVersion(port.Name(), "--port-driver="+port.Name(), v, port.Properties().MinRootlessKit); err != nil {
		return selection{}, err
	}
	checked := diag.Join(d.Check(ctx, h), port.Check(ctx, h, d))
	if err := ctx.Err(); err != nil {
		return selection{}, err
	}
	if b := diag.Blocking(checked); b != nil {
		return selection{}, b
	}
	sel := selection{net: d, port: port, proxyOff: proxyOff}
	for _, f := range diag.List(checked) {
		sel.warnings = append(sel.warnings, f)
	}
	if pa, ok := d.(netdriver.Pasta); ok {
		for _, f := range pa.RootlessKitWarnings(ctx, h, v, port.Name()) {
			sel.warnings = append(sel.warnings, f)
		}
	}
	sel.netReasons = []string{netdriver.Describe(ctx, h, d)}
	sel.portReasons = []string{portReason}

	mtu := props.MTU
	if mtu != 0 {
		if w.settings.MTU != 0 {
			sel.mtuReasons = append(sel.mtuReasons, fmt.Sprintf("%d: as configured", mtu))
		} else if mtu == props.DefaultMTU {
			sel.mtuReasons = append(sel.mtuReasons, fmt.Sprintf("%d: the default for %s", mtu, name))
		} else {
			sel.mtuReasons = append(sel.mtuReasons, fmt.Sprintf("%d: as the driver value sets it", mtu))
		}
	}
	if w.clampMTU && mtu != 0 {
		clamped, note := clampMTU(h, mtu, props.IPv6)
		if clamped != mtu {
			if d, err = netdriver.Apply(d, netdriver.Settings{MTU: clamped}); err != nil {
				return selection{}, err
			}
			sel.net = d
			sel.mtuReasons = append(sel.mtuReasons, fmt.Sprintf("clamped to %d %s", clamped, note))
			mtu = clamped
		} else if note != "" {
			sel.warnings = append(sel.warnings, warning(IDMTUAboveRoute, note, "/proc/net/route", "set the MTU by hand (WithNetwork with MTU set)"))
		}
	}
	sel.mtu = mtu
	if w.settings.HostLoopback {
		sel.gateway = d.Properties().HostGateway
		if !sel.gateway.IsValid() {
			return selection{}, netdriver.Problem(netdriver.IDUnsupported, name, name+" has no address that reaches the host's loopback",
				"use slirp4netns, pasta, vpnkit or gvisor-tap-vsock for host loopback")
		}
		sel.netReasons = append(sel.netReasons, fmt.Sprintf("host loopback allowed: containers reach the host's 127.0.0.1 at %s (dockerd's host-gateway-ip)", sel.gateway))
	}
	if d.Properties().IPv6 {
		sel.netReasons = append(sel.netReasons, "IPv6 routing enabled (outbound; publish IPv6 ports with tcp6/udp6 specs)")
	}
	return sel, nil
}

// clampMTU returns the default route's MTU when it is below mtu, with how it was found, or mtu
// and why it was kept.
func clampMTU(h *netdriver.Host, mtu int, ipv6 bool) (int, string) {
	rt, err := h.DefaultRoute()
	if err != nil {
		return mtu, fmt.Sprintf("MTU not clamped: %v; keeping %d", err, mtu)
	}
	if rt.MTU >= mtu {
		return mtu, ""
	}
	least := 68
	if ipv6 {
		least = 1280
	}
	if rt.MTU < least {
		return mtu, fmt.Sprintf("MTU not clamped: the default route's MTU (%s, %d) is below %d; keeping %d", rt.Iface, rt.MTU, least, mtu)
	}
	return rt.MTU, "to the MTU of the default route's interface " + rt.Iface
}

// choosePort picks the port driver for network d: the explicit one, one that keeps the source
// IP when that is asked for, or d's default. The port table is portdriver's Properties.
func choosePort(d netdriver.Driver, w wants, v netdriver.Version) (portdriver.Driver, string, bool, error) {
	props := d.Properties()
	name := d.Name()
	describe := func(p portdriver.Driver, why string) string {
		pp := p.Properties()
		return fmt.Sprintf("%s: %s (%s; source IP %s)", p.Name(), why, pp.Throughput, pp.SourceIPWith(v))
	}
	var port portdriver.Driver
	var reason string
	switch {
	case w.port != nil:
		port = w.port
		if err := portdriver.Validate(d, port); err != nil {
			return nil, "", false, err
		}
		if w.sourceIP && !keeps(port.Properties().SourceIPWith(v)) {
			return nil, "", false, netdriver.Problem(netdriver.IDUnsupported, name,
				fmt.Sprintf("port driver %s loses the client's source IP under RootlessKit %s", port.Name(), v), sourceIPFix)
		}
		reason = describe(port, "chosen explicitly")
	case w.sourceIP:
		for _, n := range props.PortDrivers {
			p, err := portdriver.Named(n)
			if err == nil && keeps(p.Properties().SourceIPWith(v)) && v.AtLeast(p.Properties().MinRootlessKit) {
				port = p
				break
			}
		}
		if port == nil {
			return nil, "", false, netdriver.Problem(netdriver.IDUnsupported, name,
				fmt.Sprintf("none of its port drivers (%s) keeps the client's source IP under RootlessKit %s", strings.Join(props.PortDrivers, ", "), v), sourceIPFix)
		}
		reason = describe(port, "keeps the client's source IP")
	default:
		p, err := portdriver.Named(props.DefaultPortDriver)
		if err != nil {
			return nil, "", false, err
		}
		port = p
		reason = describe(port, "the default for "+name)
	}
	proxyOff := false
	if w.sourceIP && port.Properties().SourceIPWith(v) == netdriver.SourceIPKeptTCP {
		proxyOff = true
		reason += "; TCP only, and dockerd runs with --userland-proxy=false"
	}
	return port, reason, proxyOff, nil
}

const sourceIPFix = "use pasta (implicit or pesto), slirp4netns with the slirp4netns port driver, or RootlessKit 3.0 or later with the builtin port driver"

func keeps(s netdriver.SourceIP) bool {
	return s == netdriver.SourceIPKept || s == netdriver.SourceIPKeptTCP
}

var _ = errors.New
var _ = slices.Clone[[]int]
