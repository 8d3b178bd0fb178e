package netdriver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
)

// defaultCIDR is RootlessKit's network for slirp4netns, pasta and
// gvisor-tap-vsock.
var defaultCIDR = netip.MustParsePrefix("10.0.2.0/24")

const (
	mtuMax         = 65521 // RootlessKit: "mtu must be <= 65521"
	mtuMin         = 68    // IPv4 minimum
	mtuMinIPv6     = 1280  // IPv6 minimum
	mtuUserMode    = 65520 // slirp4netns, pasta, gvisor-tap-vsock
	mtuEthernet    = 1500  // vpnkit, lxc-user-nic
	defaultIfName  = "tap0"
	lxcDefaultName = "eth0"
)

func validateMTU(driver string, mtu int, ipv6 bool) error {
	if mtu == 0 {
		return nil
	}
	min := mtuMin
	if ipv6 {
		min = mtuMinIPv6
	}
	if mtu < min || mtu > mtuMax {
		return invalid(driver, fmt.Sprintf("MTU %d is out of range", mtu),
			fmt.Sprintf("set MTU between %d and %d, or 0 for the default", min, mtuMax))
	}
	return nil
}

func validateCIDR(driver string, p netip.Prefix) error {
	if p == (netip.Prefix{}) {
		return nil
	}
	if !p.IsValid() || !p.Addr().Is4() || p.Addr().Zone() != "" {
		return invalid(driver, fmt.Sprintf("CIDR %s is not an IPv4 prefix", p), "set CIDR like 10.0.2.0/24, or leave it zero")
	}
	if p.Masked() != p {
		return invalid(driver, fmt.Sprintf("CIDR %s has host bits set", p),
			fmt.Sprintf("use the network address, %s (RootlessKit: \"cidr must be like 10.0.2.0/24, not like 10.0.2.100/24\")", p.Masked()))
	}
	// RootlessKit puts the namespace at .100 of the network.
	if p.Bits() < 8 || p.Bits() > 25 {
		return invalid(driver, fmt.Sprintf("CIDR %s: prefix length %d is out of range", p, p.Bits()),
			"use a prefix length between /8 and /25 (the namespace gets the address .100)")
	}
	return nil
}

func validateIfName(driver, field, s string) error {
	if s == "" {
		return nil
	}
	if err := validIfName(s); err != nil {
		return invalid(driver, fmt.Sprintf("%s: %v", field, err), fmt.Sprintf("set %s to at most 15 characters without '/', ':' or spaces, or leave it empty", field))
	}
	return nil
}

func validateBinary(driver, field, s string) error {
	if s == "" {
		return nil
	}
	if strings.ContainsAny(s, "\x00\n") || (strings.Contains(s, "/") && !filepath.IsAbs(s)) {
		return invalid(driver, fmt.Sprintf("%s %q is neither a program name nor an absolute path", field, clip(s)),
			fmt.Sprintf("set %s to a name looked up in PATH or to an absolute path", field))
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func mtuOr(mtu, def int) int {
	if mtu == 0 {
		return def
	}
	return mtu
}

// nthAddr returns the n-th address of prefix p (n small and positive).
func nthAddr(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func toIPNet(p netip.Prefix) *net.IPNet {
	if p == (netip.Prefix{}) {
		return nil
	}
	a := p.Masked().Addr().As4()
	return &net.IPNet{IP: net.IPv4(a[0], a[1], a[2], a[3]).To4(), Mask: net.CIDRMask(p.Bits(), 32)}
}

// Remedies for programs.
const (
	fixIP      = "install iproute2 (apt-get install iproute2; dnf install iproute)"
	fixNsenter = "install util-linux, which provides nsenter (apt-get install util-linux; dnf install util-linux)"
)

// lookProgram finds program on h, or returns an IDBinaryMissing error.
func lookProgram(h *Host, driver, program, fix string) (string, error) {
	p, err := h.LookPath(program)
	if err != nil {
		return "", Problem(IDBinaryMissing, driver, err.Error(), fix)
	}
	return p, nil
}

// checkNamespaceTools checks the programs RootlessKit runs to set up a
// network namespace: "ip" (always) and "nsenter" (drivers that create a tap
// device from the parent, and none).
func checkNamespaceTools(h *Host, driver string, nsenter bool) []error {
	var errs []error
	if _, err := lookProgram(h, driver, "ip", fixIP); err != nil {
		errs = append(errs, err)
	}
	if nsenter {
		if _, err := lookProgram(h, driver, "nsenter", fixNsenter); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// probe runs path args on h; failures are IDBinaryFailed errors, and a done
// ctx gives the context error.
func probe(ctx context.Context, h *Host, driver, path string, args []string, fix string) ([]byte, error) {
	out, err := h.Output(ctx, path, args...)
	if err != nil {
		if cerr := checkCtx(ctx, driver); cerr != nil {
			return nil, cerr
		}
		return out, withErr(Problem(IDBinaryFailed, driver, fmt.Sprintf("%q failed", strings.Join(append([]string{path}, args...), " ")), fix), err, "")
	}
	return out, nil
}
