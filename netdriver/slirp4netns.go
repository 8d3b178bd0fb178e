package netdriver

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
)

// Slirp4netns is the slirp4netns user-mode network (--net=slirp4netns),
// Docker's first choice. It needs slirp4netns 0.4.0 or later.
//
// The namespace gets 10.0.2.100/24 with gateway 10.0.2.2 and DNS 10.0.2.3
// (offsets in CIDR). With HostLoopback the gateway reaches the host's
// 127.0.0.1.
type Slirp4netns struct {
	// Binary is the slirp4netns program: a name looked up in PATH or an
	// absolute path. Default: "slirp4netns".
	Binary string `json:"binary,omitempty"`
	// MTU of the namespace's interface. Default (0): 65520.
	MTU int `json:"mtu,omitempty"`
	// CIDR is the IPv4 network. Default (zero): 10.0.2.0/24.
	CIDR netip.Prefix `json:"cidr,omitzero"`
	// IfName is the interface name in the namespace. Default: tap0.
	IfName string `json:"ifname,omitempty"`
	// HostLoopback lets the namespace reach the host's 127.0.0.1 through
	// the gateway (10.0.2.2). Default false: --disable-host-loopback, as
	// dockerd-rootless.sh does.
	HostLoopback bool `json:"hostLoopback,omitempty"`
	// IPv6 enables IPv6 routing (--ipv6, experimental): the namespace gets
	// fd00::100, gateway fd00::2, DNS fd00::3. Unrelated to port forwarding.
	IPv6 bool `json:"ipv6,omitempty"`
	// Sandbox runs slirp4netns in its own mount namespace. Default: auto
	// (on when supported and the network namespace is not detached).
	Sandbox Tristate `json:"sandbox,omitempty"`
	// Seccomp restricts slirp4netns's system calls. Default: auto (on when
	// slirp4netns and the kernel support it).
	Seccomp Tristate `json:"seccomp,omitempty"`
}

var _ Driver = Slirp4netns{}

// Name returns "slirp4netns".
func (Slirp4netns) Name() string { return NameSlirp4netns }

func (s Slirp4netns) program() string { return orDefault(s.Binary, "slirp4netns") }

func (s Slirp4netns) cidr() netip.Prefix {
	if s.CIDR == (netip.Prefix{}) {
		return defaultCIDR
	}
	return s.CIDR
}

func (s Slirp4netns) validate() error {
	var errs []error
	errs = append(errs,
		validateBinary(NameSlirp4netns, "Binary", s.Binary),
		validateMTU(NameSlirp4netns, s.MTU, s.IPv6),
		validateCIDR(NameSlirp4netns, s.CIDR),
		validateIfName(NameSlirp4netns, "IfName", s.IfName))
	if !s.Sandbox.valid() {
		errs = append(errs, invalid(NameSlirp4netns, fmt.Sprintf("Sandbox %q is not auto, true or false", clip(string(s.Sandbox))), "set Sandbox to auto, true, false or leave it empty"))
	}
	if !s.Seccomp.valid() {
		errs = append(errs, invalid(NameSlirp4netns, fmt.Sprintf("Seccomp %q is not auto, true or false", clip(string(s.Seccomp))), "set Seccomp to auto, true, false or leave it empty"))
	}
	return join(errs)
}

const fixSlirp4netns = "install slirp4netns 0.4.0 or later (apt-get install slirp4netns; dnf install slirp4netns)"

// probe finds slirp4netns and reads its --help.
func (s Slirp4netns) probe(ctx context.Context, h *Host) (string, Slirp4netnsFeatures, error) {
	p, err := lookProgram(h, NameSlirp4netns, s.program(), fixSlirp4netns)
	if err != nil {
		return "", Slirp4netnsFeatures{}, err
	}
	out, err := probe(ctx, h, NameSlirp4netns, p, []string{"--help"}, fixSlirp4netns)
	if err != nil {
		return p, Slirp4netnsFeatures{}, err
	}
	return p, ParseSlirp4netnsHelp(out), nil
}

// Check finds slirp4netns and reads "slirp4netns --help": it must list
// --netns-type (0.4.0 or later) and the flags this value needs. It also
// checks for ip and nsenter, which RootlessKit runs to create the tap device.
func (s Slirp4netns) Check(ctx context.Context, h *Host) error {
	if err := begin(ctx, h, NameSlirp4netns); err != nil {
		return err
	}
	errs := []error{s.validate()}
	p, f, err := s.probe(ctx, h)
	if cerr := checkCtx(ctx, NameSlirp4netns); cerr != nil {
		return cerr
	}
	if err != nil {
		errs = append(errs, err)
	} else {
		if !f.NetnsType {
			errs = append(errs, Problem(IDSlirp4netnsTooOld, NameSlirp4netns, fmt.Sprintf("%q lacks --netns-type: slirp4netns seems older than v0.4.0", p+" --help"), fixSlirp4netns))
		}
		need := func(ok bool, flag, why string) {
			if !ok {
				errs = append(errs, Problem(IDSlirp4netnsTooOld, NameSlirp4netns, fmt.Sprintf("%q lacks %s, needed for %s", p+" --help", flag, why), fixSlirp4netns))
			}
		}
		need(!s.IPv6 || f.EnableIPv6, "--enable-ipv6", "IPv6")
		need(s.CIDR == (netip.Prefix{}) || f.CIDR, "--cidr", "CIDR")
		need(s.HostLoopback || f.DisableHostLoopback, "--disable-host-loopback", "blocking host loopback")
		need(s.Sandbox != True || f.EnableSandbox, "--enable-sandbox", "Sandbox true")
		need(s.Seccomp != True || f.EnableSeccomp, "--enable-seccomp", "Seccomp true")
	}
	errs = append(errs, checkNamespaceTools(h, NameSlirp4netns, true)...)
	return join(errs)
}

// CheckPort implements [PortChecker]: the slirp4netns port driver needs
// --api-socket (slirp4netns 0.3.0).
func (s Slirp4netns) CheckPort(ctx context.Context, h *Host, portDriver string) error {
	if err := begin(ctx, h, NameSlirp4netns); err != nil {
		return err
	}
	if portDriver != portSlirp4netns {
		return nil
	}
	p, f, err := s.probe(ctx, h)
	if err != nil {
		return err
	}
	if !f.APISocket {
		return Problem(IDSlirp4netnsTooOld, NameSlirp4netns, fmt.Sprintf("%q lacks --api-socket, needed by the slirp4netns port driver", p+" --help"), fixSlirp4netns)
	}
	return nil
}

// describe says what was found, for Select's reasons.
func (s Slirp4netns) describe(ctx context.Context, h *Host) string {
	p, err := h.LookPath(s.program())
	if err != nil {
		return "slirp4netns"
	}
	ver := "(version unknown)"
	if out, err := h.Output(ctx, p, "--version"); err == nil {
		if v, err := ParseSlirp4netnsVersion(out); err == nil {
			ver = v.String()
		}
	}
	return fmt.Sprintf("slirp4netns %s supports --netns-type", ver)
}

// Properties reports slow networking, the builtin port driver (fast,
// source IP kept for TCP on RootlessKit 3) and MTU 65520 by default.
func (s Slirp4netns) Properties() Properties {
	return Properties{
		Namespace:         true,
		NetThroughput:     Slow,
		DefaultMTU:        mtuUserMode,
		MTU:               mtuOr(s.MTU, mtuUserMode),
		IPv6:              s.IPv6,
		HostLoopback:      s.HostLoopback,
		HostGateway:       nthAddr(s.cidr(), 2),
		DefaultPortDriver: portBuiltin,
		PortDrivers:       []string{portBuiltin, portSlirp4netns, portNone},
		MinRootlessKit:    minSupported,
		Program:           s.program(),
		Notes:             "default when installed; sandbox and seccomp hardening",
	}
}

// Flags returns --net=slirp4netns and its options. --mtu is always given,
// so an explicit choice keeps 65520 (moby#47765).
func (s Slirp4netns) Flags(v Version, portDriver string) ([]string, error) {
	if err := CheckTarget(NameSlirp4netns, v); err != nil {
		return nil, err
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	if _, err := portName(NameSlirp4netns, s.Properties(), portDriver); err != nil {
		return nil, err
	}
	f := []string{"--net=slirp4netns", "--mtu=" + strconv.Itoa(mtuOr(s.MTU, mtuUserMode))}
	if s.CIDR != (netip.Prefix{}) {
		f = append(f, "--cidr="+s.CIDR.String())
	}
	if s.IfName != "" {
		f = append(f, "--ifname="+s.IfName)
	}
	if !s.HostLoopback {
		f = append(f, "--disable-host-loopback")
	}
	if s.IPv6 {
		f = append(f, "--ipv6")
	}
	if s.Binary != "" {
		f = append(f, "--slirp4netns-binary="+s.Binary)
	}
	f = append(f, "--slirp4netns-sandbox="+string(s.Sandbox.orAuto()), "--slirp4netns-seccomp="+string(s.Seccomp.orAuto()))
	return f, nil
}

// PortChecker is implemented by network drivers whose host requirements
// depend on the port driver (pasta: implicit and pesto need newer
// releases; slirp4netns: the slirp4netns port driver needs --api-socket).
// Package portdriver's Check calls it.
type PortChecker interface {
	// CheckPort reports what is missing on h to use this network with
	// the port driver named portDriver, like Driver.Check.
	CheckPort(ctx context.Context, h *Host, portDriver string) error
}
