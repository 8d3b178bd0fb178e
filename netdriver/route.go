package netdriver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// Route is one IPv4 route of /proc/net/route.
type Route struct {
	Iface       string
	Destination netip.Prefix
	Gateway     netip.Addr
	Flags       uint16 // RTF_* flags; 0x1 is RTF_UP, 0x2 is RTF_GATEWAY
	Metric      uint32
	MTU         uint32 // the route's own MTU ("MTU" column); 0 means the device's
}

const rtfUp = 0x1

// IsDefault reports whether r is an up default route (0.0.0.0/0).
func (r Route) IsDefault() bool {
	return r.Flags&rtfUp != 0 && r.Destination.Bits() == 0
}

// ParseRoutes parses the contents of /proc/net/route. Addresses are
// hexadecimal in host byte order, as the kernel writes them. Lines that do
// not parse are an error; the header line is skipped.
func ParseRoutes(r io.Reader) ([]Route, error) {
	var out []Route
	sc := bufio.NewScanner(io.LimitReader(r, 4<<20))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if n == 1 && len(f) > 0 && f[0] == "Iface" {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("netdriver: /proc/net/route line %d: %d fields, want at least 8", n, len(f))
		}
		rt, err := parseRouteFields(f)
		if err != nil {
			return nil, fmt.Errorf("netdriver: /proc/net/route line %d: %w", n, err)
		}
		out = append(out, rt)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("netdriver: /proc/net/route: %w", err)
	}
	return out, nil
}

func parseRouteFields(f []string) (Route, error) {
	var rt Route
	if err := validIfName(f[0]); err != nil {
		return rt, err
	}
	rt.Iface = f[0]
	dst, err := hexAddr(f[1])
	if err != nil {
		return rt, fmt.Errorf("destination: %w", err)
	}
	gw, err := hexAddr(f[2])
	if err != nil {
		return rt, fmt.Errorf("gateway: %w", err)
	}
	flags, err := strconv.ParseUint(f[3], 16, 16)
	if err != nil {
		return rt, fmt.Errorf("flags: %w", err)
	}
	metric, err := strconv.ParseUint(f[6], 10, 32)
	if err != nil {
		return rt, fmt.Errorf("metric: %w", err)
	}
	mask, err := hexAddr(f[7])
	if err != nil {
		return rt, fmt.Errorf("mask: %w", err)
	}
	m := binary.BigEndian.Uint32(mask.AsSlice())
	ones := bits.LeadingZeros32(^m)
	if m<<ones != 0 {
		return rt, fmt.Errorf("mask %s is not contiguous", mask)
	}
	rt.Destination, err = dst.Prefix(ones)
	if err != nil {
		return rt, err
	}
	rt.Gateway = gw
	rt.Flags = uint16(flags)
	rt.Metric = uint32(metric)
	if len(f) > 8 {
		mtu, err := strconv.ParseUint(f[8], 10, 32)
		if err != nil {
			return rt, fmt.Errorf("mtu: %w", err)
		}
		rt.MTU = uint32(mtu)
	}
	return rt, nil
}

// hexAddr decodes an 8-digit address in host byte order.
func hexAddr(s string) (netip.Addr, error) {
	if len(s) != 8 {
		return netip.Addr{}, fmt.Errorf("%q is not 8 hex digits", clip(s))
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not hexadecimal", s)
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b), nil
}

// validIfName checks a Linux interface name (also used for file names
// under /sys/class/net).
func validIfName(s string) error {
	if s == "" || len(s) > 15 || s == "." || s == ".." || strings.ContainsAny(s, "/: \t\n\x00") {
		return fmt.Errorf("invalid interface name %q", clip(s))
	}
	return nil
}

// DefaultRoute describes the interface of the host's IPv4 default route.
type DefaultRoute struct {
	Iface string
	// MTU is the smaller of the device MTU (/sys/class/net/IFACE/mtu) and
	// the route's own MTU, if it has one.
	MTU int
}

// ErrNoDefaultRoute is returned by [Host.DefaultRoute] when
// /proc/net/route has no default route.
var ErrNoDefaultRoute = errors.New("netdriver: no IPv4 default route")

// DefaultRoute reads /proc/net/route and /sys/class/net/IFACE/mtu through h
// and returns the default route with the lowest metric (ties: the smallest
// MTU).
func (h *Host) DefaultRoute() (DefaultRoute, error) {
	b, err := h.ReadFile("/proc/net/route")
	if err != nil {
		return DefaultRoute{}, fmt.Errorf("netdriver: %w", err)
	}
	routes, err := ParseRoutes(strings.NewReader(string(b)))
	if err != nil {
		return DefaultRoute{}, err
	}
	var best *DefaultRoute
	var bestMetric uint32
	for _, rt := range routes {
		if !rt.IsDefault() {
			continue
		}
		mb, err := h.ReadFile("/sys/class/net/" + rt.Iface + "/mtu")
		if err != nil {
			return DefaultRoute{}, fmt.Errorf("netdriver: MTU of %s: %w", rt.Iface, err)
		}
		mtu, err := strconv.Atoi(strings.TrimSpace(string(mb)))
		if err != nil || mtu <= 0 || mtu > 1<<20 {
			return DefaultRoute{}, fmt.Errorf("netdriver: MTU of %s: bad value %q", rt.Iface, clip(strings.TrimSpace(string(mb))))
		}
		if rt.MTU > 0 && int(rt.MTU) < mtu {
			mtu = int(rt.MTU)
		}
		if best == nil || rt.Metric < bestMetric || (rt.Metric == bestMetric && mtu < best.MTU) {
			best = &DefaultRoute{Iface: rt.Iface, MTU: mtu}
			bestMetric = rt.Metric
		}
	}
	if best == nil {
		return DefaultRoute{}, ErrNoDefaultRoute
	}
	return *best, nil
}
