package netdriver

import (
	"context"
	"net/netip"
	"strconv"
)

// VPNKit is Docker Desktop's VPNKit (--net=vpnkit), the legacy fallback:
// TCP and UDP only (no ping), no IPv6, no custom CIDR, MTU 1500. The
// namespace gets an address in 192.168.65.0/24 with gateway and DNS
// 192.168.65.1; with HostLoopback the host's 127.0.0.1 is 192.168.65.2.
type VPNKit struct {
	// Binary is the vpnkit program. Default: "vpnkit".
	Binary string `json:"binary,omitempty"`
	// MTU of the namespace's interface. Default (0): 1500; RootlessKit
	// warns about any other value.
	MTU int `json:"mtu,omitempty"`
	// IfName is the interface name in the namespace. Default: tap0.
	IfName string `json:"ifname,omitempty"`
	// HostLoopback lets the namespace reach the host's 127.0.0.1 at
	// 192.168.65.2. Default false (--disable-host-loopback).
	HostLoopback bool `json:"hostLoopback,omitempty"`
}

var _ Driver = VPNKit{}

var vpnkitHostGateway = netip.MustParseAddr("192.168.65.2")

// Name returns "vpnkit".
func (VPNKit) Name() string { return NameVPNKit }

func (d VPNKit) program() string { return orDefault(d.Binary, "vpnkit") }

func (d VPNKit) validate() error {
	return join([]error{
		validateBinary(NameVPNKit, "Binary", d.Binary),
		validateMTU(NameVPNKit, d.MTU, false),
		validateIfName(NameVPNKit, "IfName", d.IfName),
	})
}

const fixVPNKit = "install vpnkit (https://github.com/moby/vpnkit; few distributions package it), or use gvisor-tap-vsock, which needs no program"

// Check finds vpnkit and ip.
func (d VPNKit) Check(ctx context.Context, h *Host) error {
	if err := begin(ctx, h, NameVPNKit); err != nil {
		return err
	}
	errs := []error{d.validate()}
	if _, err := lookProgram(h, NameVPNKit, d.program(), fixVPNKit); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkNamespaceTools(h, NameVPNKit, false)...)
	return join(errs)
}

func (d VPNKit) describe(ctx context.Context, h *Host) string {
	if p, err := h.LookPath(d.program()); err == nil {
		return "vpnkit found at " + p
	}
	return "vpnkit"
}

// Properties reports slow networking, the builtin port driver and MTU 1500.
func (d VPNKit) Properties() Properties {
	return Properties{
		Namespace:         true,
		NetThroughput:     Slow,
		DefaultMTU:        mtuEthernet,
		MTU:               mtuOr(d.MTU, mtuEthernet),
		HostLoopback:      d.HostLoopback,
		HostGateway:       vpnkitHostGateway,
		DefaultPortDriver: portBuiltin,
		PortDrivers:       []string{portBuiltin, portNone},
		MinRootlessKit:    minSupported,
		Program:           d.program(),
		Notes:             "legacy; TCP and UDP only, no IPv6, MTU 1500",
	}
}

// Flags returns --net=vpnkit and its options.
func (d VPNKit) Flags(v Version, portDriver string) ([]string, error) {
	if err := CheckTarget(NameVPNKit, v); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if _, err := portName(NameVPNKit, d.Properties(), portDriver); err != nil {
		return nil, err
	}
	f := []string{"--net=vpnkit", "--mtu=" + strconv.Itoa(mtuOr(d.MTU, mtuEthernet))}
	if d.IfName != "" {
		f = append(f, "--ifname="+d.IfName)
	}
	if !d.HostLoopback {
		f = append(f, "--disable-host-loopback")
	}
	if d.Binary != "" {
		f = append(f, "--vpnkit-binary="+d.Binary)
	}
	return f, nil
}
