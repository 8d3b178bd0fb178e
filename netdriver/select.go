package netdriver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
)

// isNil reports whether d is nil or a nil pointer.
func isNil(d Driver) bool {
	if d == nil {
		return true
	}
	v := reflect.ValueOf(d)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// DefaultOrder returns the order in which [Select] tries network drivers
// when none is chosen: Docker's (dockerd-rootless.sh) slirp4netns (0.4.0
// or later), then pasta, then vpnkit, then the embedded gvisor-tap-vsock.
// This is the one place the order is kept; pass Preferences.Order to use
// another, e.g. one measured on the machine.
func DefaultOrder() []string {
	return []string{NameSlirp4netns, NamePasta, NameVPNKit, NameGVisorTapVsock}
}

// Preferences says what [Select] should pick. The zero value asks for
// Docker's choice for the embedded engine.
type Preferences struct {
	// RootlessKit is the version the driver will run under: Embedded (the
	// default when zero) or the external binary's, from
	// [RootlessKitVersion]. Drivers, port drivers and flags it lacks are
	// not chosen.
	RootlessKit Version
	// Network, if set, is used instead of trying DefaultOrder; the
	// switches below are applied to it, and an error is returned if it
	// cannot meet them or is not usable on the host.
	Network Driver
	// PortDriver, if set, is the port driver name to use; otherwise the
	// network's default, or the one the SourceIP switch needs.
	PortDriver string
	// Order replaces DefaultOrder when Network is nil.
	Order []string

	// SourceIP keeps the client's source IP on published ports. Trade-off:
	// with RootlessKit 3.0 or later the builtin port driver keeps it for
	// TCP only (not UDP) and only if dockerd runs without its userland
	// proxy (Selection.DisableUserlandProxy; containers then cannot reach
	// published ports on the host's loopback through the proxy and the
	// kernel needs br_netfilter). With older RootlessKit slirp4netns
	// switches to its own, slow port driver (no IPv6 ports). pasta keeps it
	// with its default implicit port driver; vpnkit and lxc-user-nic cannot
	// keep it before RootlessKit 3.0, and the gvisor-tap-vsock port
	// driver never does.
	SourceIP bool
	// HostLoopback lets containers reach services on the host's
	// 127.0.0.1 through Selection.HostGateway (10.0.2.2 for slirp4netns
	// and pasta, 10.0.2.1 for gvisor-tap-vsock, 192.168.65.2 for vpnkit);
	// set dockerd's "host-gateway-ip" to it so host.docker.internal works.
	// Trade-off: every container can then reach every service that
	// listens only on the host's loopback (databases, admin consoles,
	// other users' development servers). lxc-user-nic cannot do it.
	HostLoopback bool
	// IPv6 enables IPv6 routing for outbound traffic (--ipv6). Only
	// slirp4netns and pasta support it; it does not publish IPv6 ports
	// (use tcp6/udp6 port specs with builtin, or pesto with IPv6).
	// Trade-off: experimental in RootlessKit.
	IPv6 bool
	// ClampMTU lowers the MTU to the host's default-route MTU (read from
	// /proc/net/route and /sys/class/net/IF/mtu) when that is lower, so
	// pulls and builds do not hang behind VPNs, PPPoE or overlay networks
	// (1450). Trade-off: a small MTU costs throughput (slirp4netns moves
	// about 1.7 Gbps at 1500 against 8 Gbps at 65520); pass the same
	// Selection.MTU to dockerd's "mtu" so the bridge matches.
	ClampMTU bool
}

// Selection is what [Select] picked.
type Selection struct {
	// Network is the driver with the switches applied.
	Network Driver
	// PortDriver is the port driver name (see package portdriver's Named).
	PortDriver string
	// MTU is the MTU the network configures (0 if it has no interface).
	MTU int
	// HostGateway is the address that reaches the host's loopback, set
	// when Preferences.HostLoopback is: dockerd's "host-gateway-ip".
	HostGateway netip.Addr
	// DisableUserlandProxy is true when dockerd must run with
	// --userland-proxy=false for the choice to work (SourceIP with the
	// builtin port driver).
	DisableUserlandProxy bool
	// Reasons explains the choice, one sentence each, skipped drivers first.
	Reasons []string
	// Warnings are problems that do not stop the choice (for example an
	// unknown pasta release).
	Warnings []string
}

// Internal hooks implemented by this package's drivers.
type (
	describer interface {
		describe(ctx context.Context, h *Host) string
	}
	tunable interface {
		withHostLoopback() (Driver, error)
		withIPv6() (Driver, error)
		withMTU(mtu int) Driver
	}
)

// Select picks the network driver and port driver for this host and says
// why. Without Preferences.Network it tries the drivers in order
// (DefaultOrder unless Preferences.Order is set) and returns the first one
// that RootlessKit's version supports, whose Check has no blocking
// problem, and that meets the switches. The MTU defaults to 65520 for
// slirp4netns, pasta and gvisor-tap-vsock, explicit choice or not.
//
// If no driver works, the error joins every driver's problems (use
// [Remedy] for the fixes). A done ctx stops Select with ctx's error.
//
// A pair that only the embedded engine runs ([IDEmbeddedOnly], pasta with
// builtin) is selected with a warning, since the version alone does not say
// which engine will run it; for the rootlesskit command, the drivers' Flags
// refuse it.
func Select(ctx context.Context, h *Host, p Preferences) (Selection, error) {
	v := p.RootlessKit
	if v.IsZero() {
		v = Embedded
	}
	if err := CheckTarget("", v); err != nil {
		return Selection{}, err
	}
	if isNil(p.Network) && p.Network != nil {
		return Selection{}, invalid("", "Preferences.Network is a nil pointer", "set Network to a driver value, or leave it nil for automatic selection")
	}
	if p.Network != nil {
		sel, err := consider(ctx, h, p, v, p.Network)
		if err != nil {
			return Selection{}, err
		}
		sel.Reasons = append([]string{fmt.Sprintf("%s; chosen explicitly", sel.Reasons[0])}, sel.Reasons[1:]...)
		return sel, nil
	}
	order, what := p.Order, "the given order"
	if order == nil {
		order, what = DefaultOrder(), "Docker's order"
	}
	var skipped []string
	var errs []error
	for i, name := range order {
		if err := ctx.Err(); err != nil {
			return Selection{}, fmt.Errorf("netdriver: select: %w", err)
		}
		d, err := Named(name)
		if err != nil {
			return Selection{}, err
		}
		sel, err := consider(ctx, h, p, v, d)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return Selection{}, fmt.Errorf("netdriver: select: %w", cerr)
			}
			errs = append(errs, err)
			skipped = append(skipped, fmt.Sprintf("skipped %s: %v", name, err))
			continue
		}
		pos := "chosen first per " + what
		if i > 0 {
			pos = fmt.Sprintf("chosen as number %d in %s", i+1, what)
		}
		sel.Reasons[0] += "; " + pos
		sel.Reasons = append(skipped, sel.Reasons...)
		return sel, nil
	}
	return Selection{}, fmt.Errorf("netdriver: no usable network driver (tried %s): %w", strings.Join(order, ", "), errors.Join(errs...))
}

// consider applies the switches to d and checks it; Reasons[0] describes d.
func consider(ctx context.Context, h *Host, p Preferences, v Version, d Driver) (Selection, error) {
	name := d.Name()
	tune, _ := d.(tunable)
	if p.HostLoopback && !d.Properties().HostLoopback {
		if tune == nil {
			return Selection{}, unsupported(name, "host loopback", "the driver has no such setting")
		}
		var err error
		if d, err = tune.withHostLoopback(); err != nil {
			return Selection{}, err
		}
	}
	if p.IPv6 && !d.Properties().IPv6 {
		if tune == nil {
			return Selection{}, unsupported(name, "IPv6", "the driver has no such setting")
		}
		var err error
		if d, err = tune.withIPv6(); err != nil {
			return Selection{}, err
		}
	}
	port, proxyOff, portReason, err := choosePort(d, p, v)
	if err != nil {
		return Selection{}, err
	}
	var warnings []string
	if _, err := d.Flags(v, port); errors.Is(err, IDEmbeddedOnly) {
		// v does not say which engine runs it: RootlessKit's library (the embedded engine)
		// runs the pair; the rootlesskit command refuses it, and its Flags say so.
		warnings = append(warnings, fmt.Sprintf("%s with port driver %s runs only in the embedded engine: %v", name, port, err))
	} else if err != nil {
		return Selection{}, err
	}
	if pa, ok := d.(Pasta); ok {
		warnings = append(warnings, pa.rootlessKitWarnings(ctx, h, v, port)...)
	}
	checkErr := d.Check(ctx, h)
	if pc, ok := d.(PortChecker); ok && Blocking(checkErr) == nil {
		checkErr = join([]error{checkErr, pc.CheckPort(ctx, h, port)})
	}
	if err := ctx.Err(); err != nil {
		return Selection{}, fmt.Errorf("netdriver: select: %w", err)
	}
	if b := Blocking(checkErr); b != nil {
		return Selection{}, b
	}
	for _, w := range Warnings(checkErr) {
		warnings = append(warnings, w.Error())
	}

	desc := name
	if ds, ok := d.(describer); ok {
		desc = ds.describe(ctx, h)
	}
	reasons := []string{desc, portReason}

	props := d.Properties()
	mtu := props.MTU
	mtuReason := fmt.Sprintf("MTU %d: as configured", mtu)
	if mtu == props.DefaultMTU {
		mtuReason = fmt.Sprintf("MTU %d: the default for %s", mtu, name)
	}
	if p.ClampMTU && mtu != 0 {
		var note string
		d, mtu, note = clampMTU(h, d, mtu, props.IPv6)
		if mtu != props.MTU {
			mtuReason = fmt.Sprintf("MTU %d: clamped from %d (%s) %s", mtu, props.MTU, strings.TrimPrefix(mtuReason, fmt.Sprintf("MTU %d: ", props.MTU)), note)
		} else if note != "" {
			warnings = append(warnings, note)
		}
	}
	if mtu != 0 {
		reasons = append(reasons, mtuReason)
	}

	var gw netip.Addr
	if p.HostLoopback {
		gw = d.Properties().HostGateway
		if !gw.IsValid() {
			return Selection{}, unsupported(name, "host loopback", "no address reaches the host's loopback")
		}
		reasons = append(reasons, fmt.Sprintf("host loopback allowed: containers reach the host's 127.0.0.1 at %s; set dockerd's host-gateway-ip to it", gw))
	}
	if d.Properties().IPv6 {
		reasons = append(reasons, "IPv6 routing enabled (outbound only; publish IPv6 ports with tcp6/udp6)")
	}
	return Selection{
		Network:              d,
		PortDriver:           port,
		MTU:                  mtu,
		HostGateway:          gw,
		DisableUserlandProxy: proxyOff,
		Reasons:              reasons,
		Warnings:             warnings,
	}, nil
}

// clampMTU lowers d's MTU to the default route's. It returns the driver,
// the MTU and a note: how it was clamped, or why it was not.
func clampMTU(h *Host, d Driver, mtu int, ipv6 bool) (Driver, int, string) {
	rt, err := h.DefaultRoute()
	if err != nil {
		return d, mtu, fmt.Sprintf("MTU not clamped: %v; keeping %d", err, mtu)
	}
	if rt.MTU >= mtu {
		return d, mtu, ""
	}
	min := mtuMin
	if ipv6 {
		min = mtuMinIPv6
	}
	if rt.MTU < min {
		return d, mtu, fmt.Sprintf("MTU not clamped: the default route's MTU (%s, %d) is below %d; keeping %d", rt.Iface, rt.MTU, min, mtu)
	}
	tune, ok := d.(tunable)
	if !ok {
		return d, mtu, fmt.Sprintf("MTU not clamped: %s has no MTU setting", d.Name())
	}
	return tune.withMTU(rt.MTU), rt.MTU, fmt.Sprintf("to the MTU of the default route's interface %s", rt.Iface)
}

// portSourceIP is what a port driver, by name, does with the source IP
// under RootlessKit v (package portdriver's Properties say the same).
func portSourceIP(port string, v Version) SourceIP {
	switch port {
	case PortBuiltin:
		if v.AtLeast(v3_0) {
			return SourceIPKeptTCP
		}
		return SourceIPLost
	case PortSlirp4netns, PortImplicit, PortPesto:
		return SourceIPKept
	case PortGVisorTapVsock:
		return SourceIPLost
	}
	return SourceIPNA
}

func portThroughput(port string) Throughput {
	switch port {
	case PortBuiltin, PortImplicit, PortPesto:
		return Fast
	case PortSlirp4netns, PortGVisorTapVsock:
		return Slow
	}
	return ThroughputNA
}

func keeps(s SourceIP) bool { return s == SourceIPKept || s == SourceIPKeptTCP }

// choosePort picks the port driver for d under the preferences.
func choosePort(d Driver, p Preferences, v Version) (port string, proxyOff bool, reason string, err error) {
	props := d.Properties()
	name := d.Name()
	describe := func(port, why string) string {
		return fmt.Sprintf("port driver %s: %s (%s; source IP %s)", port, why, portThroughput(port), portSourceIP(port, v))
	}
	switch {
	case p.PortDriver != "":
		port = p.PortDriver
		if !slices.Contains(props.PortDrivers, port) {
			_, err := portName(name, props, port)
			return "", false, "", err
		}
		if p.SourceIP && !keeps(portSourceIP(port, v)) {
			return "", false, "", unsupported(name, "keeping the source IP",
				fmt.Sprintf("port driver %s loses it under RootlessKit %s", port, v))
		}
		reason = describe(port, "chosen explicitly")
	case p.SourceIP:
		for _, c := range props.PortDrivers {
			if keeps(portSourceIP(c, v)) {
				port = c
				break
			}
		}
		if port == "" {
			return "", false, "", unsupported(name, "keeping the source IP",
				fmt.Sprintf("none of its port drivers (%s) keeps it under RootlessKit %s", strings.Join(props.PortDrivers, ", "), v))
		}
		reason = describe(port, "keeps the client's source IP")
	default:
		port = props.DefaultPortDriver
		reason = describe(port, "the default for "+name)
	}
	if p.SourceIP && portSourceIP(port, v) == SourceIPKeptTCP {
		proxyOff = true
		reason += "; TCP only, and dockerd must run with --userland-proxy=false"
	}
	return port, proxyOff, reason, nil
}

func unsupported(driver, what, why string) error {
	fix := "choose another network driver"
	switch what {
	case "IPv6":
		fix = "use slirp4netns or pasta for IPv6"
	case "host loopback":
		fix = "use slirp4netns, pasta, vpnkit or gvisor-tap-vsock (default CIDR) for host loopback"
	case "keeping the source IP":
		fix = "use pasta (implicit), slirp4netns (slirp4netns port driver), or RootlessKit 3.0 or later with the builtin port driver"
	}
	return &Error{ID: IDUnsupported, Driver: driver, Detail: fmt.Sprintf("%s cannot provide %s: %s", driver, what, why), Fix: fix}
}

// Tuning hooks.

func (s Slirp4netns) withHostLoopback() (Driver, error) { s.HostLoopback = true; return s, nil }
func (s Slirp4netns) withIPv6() (Driver, error)         { s.IPv6 = true; return s, nil }
func (s Slirp4netns) withMTU(mtu int) Driver            { s.MTU = mtu; return s }

func (p Pasta) withHostLoopback() (Driver, error) { p.HostLoopback = true; return p, nil }
func (p Pasta) withIPv6() (Driver, error)         { p.IPv6 = true; return p, nil }
func (p Pasta) withMTU(mtu int) Driver            { p.MTU = mtu; return p }

func (d VPNKit) withHostLoopback() (Driver, error) { d.HostLoopback = true; return d, nil }
func (d VPNKit) withIPv6() (Driver, error) {
	return nil, unsupported(NameVPNKit, "IPv6", "vpnkit has no IPv6 support in RootlessKit")
}
func (d VPNKit) withMTU(mtu int) Driver { d.MTU = mtu; return d }

func (d LXCUserNIC) withHostLoopback() (Driver, error) {
	return nil, unsupported(NameLXCUserNIC, "host loopback", "RootlessKit always blocks it for lxc-user-nic")
}
func (d LXCUserNIC) withIPv6() (Driver, error) {
	return nil, unsupported(NameLXCUserNIC, "IPv6", "lxc-user-nic has no IPv6 support in RootlessKit")
}
func (d LXCUserNIC) withMTU(mtu int) Driver { d.MTU = mtu; return d }

func (d GVisorTapVsock) withHostLoopback() (Driver, error) {
	d.HostLoopback = true
	return d, d.validate()
}
func (d GVisorTapVsock) withIPv6() (Driver, error) {
	return nil, unsupported(NameGVisorTapVsock, "IPv6", "gvisor-tap-vsock's virtual network has no IPv6")
}
func (d GVisorTapVsock) withMTU(mtu int) Driver { d.MTU = mtu; return d }

func (d None) withHostLoopback() (Driver, error) {
	return nil, unsupported(NameNone, "host loopback", "the none network has no route out")
}
func (d None) withIPv6() (Driver, error) {
	return nil, unsupported(NameNone, "IPv6", "the none network has no route out")
}
func (d None) withMTU(int) Driver { return d }

func (d HostNetwork) withHostLoopback() (Driver, error) {
	return nil, unsupported(NameHost, "host loopback", "it is the host network; use 127.0.0.1")
}
func (d HostNetwork) withIPv6() (Driver, error) {
	return nil, unsupported(NameHost, "IPv6", "it is the host network")
}
func (d HostNetwork) withMTU(int) Driver { return d }

// DetachNetNSFlags returns ["--detach-netns"] for an external RootlessKit
// of version v, or an error if v lacks it (it appeared in 2.0), if d has no
// network namespace to detach, or if d is slirp4netns with Sandbox true
// (slirp4netns#317). dockerd-rootless.sh passes it by default since Docker
// 29.5; it speeds up pulls and builds and enables "docker run --net=host".
// In the embedded engine set Embedding.DetachNetNS and parent.Opt.DetachNetNS
// instead.
func DetachNetNSFlags(v Version, d Driver) ([]string, error) {
	if isNil(d) {
		return nil, invalid("", "nil network driver", "pass the network driver in use")
	}
	if err := RequireVersion(d.Name(), "--detach-netns", v, v2_0); err != nil {
		return nil, err
	}
	if !d.Properties().Namespace {
		return nil, invalid(d.Name(), "--detach-netns needs a network namespace", "use a namespaced network driver, or do not detach")
	}
	if s, ok := d.(Slirp4netns); ok && s.Sandbox == True {
		return nil, invalid(NameSlirp4netns, "Sandbox true conflicts with --detach-netns (slirp4netns#317)", "set Sandbox to auto or false, or do not detach the network namespace")
	}
	return []string{"--detach-netns"}, nil
}
