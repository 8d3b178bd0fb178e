package netdriver

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
)

// GVisorTapVsock is gvisor-tap-vsock's user-mode network
// (--net=gvisor-tap-vsock, experimental, RootlessKit 3.0 or later). Its
// TCP/IP stack (gVisor's netstack) runs inside the RootlessKit parent
// process, so no program has to be installed: in the embedded engine it runs
// in the helper process. Docker picks it last, when slirp4netns, pasta and
// vpnkit are all absent.
//
// The namespace gets 10.0.2.100/24 with gateway and DNS 10.0.2.1. There is
// no IPv6, and ICMP echo replies are forged. With HostLoopback, 10.0.2.1
// reaches the host's 127.0.0.1: RootlessKit 3.3.0 maps that fixed address,
// so host loopback needs the default CIDR.
type GVisorTapVsock struct {
	// MTU of the namespace's interface. Default (0): 65520.
	MTU int `json:"mtu,omitempty"`
	// CIDR is the IPv4 network. Default (zero): 10.0.2.0/24.
	CIDR netip.Prefix `json:"cidr,omitzero"`
	// IfName is the interface name in the namespace. Default: tap0.
	IfName string `json:"ifname,omitempty"`
	// HostLoopback lets the namespace reach the host's 127.0.0.1 at
	// 10.0.2.1. Default false (--disable-host-loopback).
	HostLoopback bool `json:"hostLoopback,omitempty"`
}

var _ Driver = GVisorTapVsock{}

var gvtapHostGateway = netip.MustParseAddr("10.0.2.1")

// Name returns "gvisor-tap-vsock".
func (GVisorTapVsock) Name() string { return NameGVisorTapVsock }

func (d GVisorTapVsock) cidr() netip.Prefix {
	if d.CIDR == (netip.Prefix{}) {
		return defaultCIDR
	}
	return d.CIDR
}

func (d GVisorTapVsock) validate() error {
	errs := []error{
		validateMTU(NameGVisorTapVsock, d.MTU, false),
		validateCIDR(NameGVisorTapVsock, d.CIDR),
		validateIfName(NameGVisorTapVsock, "IfName", d.IfName),
	}
	if d.HostLoopback && d.CIDR != (netip.Prefix{}) && d.CIDR != defaultCIDR {
		errs = append(errs, invalid(NameGVisorTapVsock,
			fmt.Sprintf("HostLoopback with CIDR %s: RootlessKit maps only the fixed address 10.0.2.1 to the host's loopback", d.CIDR),
			"leave CIDR at 10.0.2.0/24 to use HostLoopback, or turn HostLoopback off"))
	}
	return join(errs)
}

// Check needs no program of its own, only ip and nsenter, which RootlessKit
// runs to create the tap device. That RootlessKit is 3.0 or later is
// checked by Flags (the embedded engine is).
func (d GVisorTapVsock) Check(ctx context.Context, h *Host) error {
	if err := begin(ctx, h, NameGVisorTapVsock); err != nil {
		return err
	}
	errs := []error{d.validate()}
	errs = append(errs, checkNamespaceTools(h, NameGVisorTapVsock, true)...)
	return join(errs)
}

func (d GVisorTapVsock) describe(ctx context.Context, h *Host) string {
	return "gvisor-tap-vsock runs inside RootlessKit (no program needed)"
}

// Properties reports slow networking, in-process, with the builtin port
// driver and MTU 65520 by default.
func (d GVisorTapVsock) Properties() Properties {
	p := Properties{
		Namespace:         true,
		InProcess:         true,
		Experimental:      true,
		NetThroughput:     Slow,
		DefaultMTU:        mtuUserMode,
		MTU:               mtuOr(d.MTU, mtuUserMode),
		HostLoopback:      d.HostLoopback,
		DefaultPortDriver: portBuiltin,
		PortDrivers:       []string{portBuiltin, portGVisorTapVsock, portNone},
		MinRootlessKit:    v3_0,
		Notes:             "experimental; in-process, no program needed; no IPv6; its own port driver is slow and loses the source IP",
	}
	if d.cidr() == defaultCIDR {
		p.HostGateway = gvtapHostGateway
	}
	return p
}

// Flags returns --net=gvisor-tap-vsock and its options (RootlessKit 3.0).
func (d GVisorTapVsock) Flags(v Version, portDriver string) ([]string, error) {
	if err := CheckTarget(NameGVisorTapVsock, v); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if _, err := portName(NameGVisorTapVsock, d.Properties(), portDriver); err != nil {
		return nil, err
	}
	if err := RequireVersion(NameGVisorTapVsock, "--net=gvisor-tap-vsock", v, v3_0); err != nil {
		return nil, err
	}
	f := []string{"--net=gvisor-tap-vsock", "--mtu=" + strconv.Itoa(mtuOr(d.MTU, mtuUserMode))}
	if d.CIDR != (netip.Prefix{}) {
		f = append(f, "--cidr="+d.CIDR.String())
	}
	if d.IfName != "" {
		f = append(f, "--ifname="+d.IfName)
	}
	if !d.HostLoopback {
		f = append(f, "--disable-host-loopback")
	}
	return f, nil
}
