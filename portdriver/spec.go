package portdriver

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
)

// Proto is the protocol of a published port. "tcp" and "udp" may listen
// on IPv4 and IPv6 (with the builtin driver; pesto uses the parent
// address's family); the 4 and 6 forms pick one.
type Proto string

// Protocols RootlessKit's port drivers accept.
const (
	TCP  Proto = "tcp"
	TCP4 Proto = "tcp4"
	TCP6 Proto = "tcp6"
	UDP  Proto = "udp"
	UDP4 Proto = "udp4"
	UDP6 Proto = "udp6"
)

// Valid reports whether p is one of the six protocols.
func (p Proto) Valid() bool {
	switch p {
	case TCP, TCP4, TCP6, UDP, UDP4, UDP6:
		return true
	}
	return false
}

// Family returns 4 or 6 for the suffixed forms and 0 for tcp and udp.
func (p Proto) Family() int {
	switch p {
	case TCP4, UDP4:
		return 4
	case TCP6, UDP6:
		return 6
	}
	return 0
}

// Spec is a published port: the host side (Parent) forwarded to ChildPort
// inside the network namespace.
type Spec struct {
	// Parent is the host address and port. Its Addr may be the zero
	// netip.Addr, meaning all addresses (RootlessKit's empty parentIP,
	// 0.0.0.0 and, for tcp and udp with the builtin driver, ::).
	Parent netip.AddrPort
	// ChildIP is the address inside the namespace. The zero Addr means
	// the port driver's default: 127.0.0.1 for builtin, the namespace's
	// address (10.0.2.100) for slirp4netns, pesto and gvisor-tap-vsock.
	ChildIP netip.Addr
	// ChildPort is the port inside the namespace.
	ChildPort uint16
	// Proto is the protocol; "" means tcp.
	Proto Proto
}

func (s Spec) proto() Proto {
	if s.Proto == "" {
		return TCP
	}
	return s.Proto
}

// Validate checks ports (1-65535), the protocol, and that addresses match
// a protocol's family (tcp4 with an IPv4 address). Zoned addresses are
// rejected.
func (s Spec) Validate() error {
	if s.Parent.Port() == 0 {
		return fmt.Errorf("portdriver: invalid spec %s: parent port must be 1-65535", s)
	}
	if s.ChildPort == 0 {
		return fmt.Errorf("portdriver: invalid spec %s: child port must be 1-65535", s)
	}
	p := s.proto()
	if !p.Valid() {
		return fmt.Errorf("portdriver: invalid spec: unknown protocol %q (want tcp, tcp4, tcp6, udp, udp4 or udp6)", clip(string(p)))
	}
	for _, a := range []struct {
		name string
		addr netip.Addr
	}{{"parent", s.Parent.Addr()}, {"child", s.ChildIP}} {
		if !a.addr.IsValid() {
			continue
		}
		if a.addr.Zone() != "" {
			return fmt.Errorf("portdriver: invalid spec %s: %s address has a zone", s, a.name)
		}
		if a.addr.Is4In6() {
			return fmt.Errorf("portdriver: invalid spec %s: %s address is IPv4-mapped IPv6; use the IPv4 form", s, a.name)
		}
		if f := p.Family(); f == 4 && !a.addr.Is4() || f == 6 && !a.addr.Is6() {
			return fmt.Errorf("portdriver: invalid spec %s: %s address %s does not match protocol %s", s, a.name, a.addr, p)
		}
	}
	return nil
}

// ParseSpec parses a published port as Docker's -p writes it:
//
//	[IP:]HOSTPORT:CONTAINERPORT[/PROTO]
//
// and, like RootlessKit's --publish, with a child address:
//
//	IP:HOSTPORT:CHILDIP:CONTAINERPORT[/PROTO]
//
// IPv6 addresses are written in brackets ("[::1]:8080:80/tcp6"); the
// protocol defaults to tcp. Port ranges are not supported.
func ParseSpec(s string) (Spec, error) {
	bad := func(why string) (Spec, error) {
		return Spec{}, fmt.Errorf("portdriver: invalid port spec %q: %s", clip(s), why)
	}
	body, proto := s, TCP
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		body, proto = s[:i], Proto(s[i+1:])
		if !proto.Valid() {
			return bad(fmt.Sprintf("unknown protocol %q (want tcp, tcp4, tcp6, udp, udp4 or udp6)", clip(string(proto))))
		}
	}
	fields, err := splitFields(body)
	if err != nil {
		return bad(err.Error())
	}
	var sp Spec
	sp.Proto = proto
	var parentIP, hostPort, childIP, childPort string
	switch len(fields) {
	case 2:
		hostPort, childPort = fields[0].text, fields[1].text
	case 3:
		parentIP, hostPort, childPort = fields[0].text, fields[1].text, fields[2].text
	case 4:
		parentIP, hostPort, childIP, childPort = fields[0].text, fields[1].text, fields[2].text, fields[3].text
	default:
		return bad("want [IP:]HOSTPORT:CONTAINERPORT[/PROTO] (IPv6 addresses in brackets)")
	}
	for i, f := range fields {
		// Only address fields may be bracketed.
		if f.bracketed && !(i == 0 && len(fields) >= 3 || i == 2 && len(fields) == 4) {
			return bad("brackets around a port")
		}
	}
	var pa netip.Addr
	if len(fields) >= 3 {
		if pa, err = parseAddr(parentIP); err != nil {
			return bad("host IP: " + err.Error())
		}
	}
	hp, err := parsePort(hostPort)
	if err != nil {
		return bad("host port: " + err.Error())
	}
	if len(fields) == 4 {
		if sp.ChildIP, err = parseAddr(childIP); err != nil {
			return bad("child IP: " + err.Error())
		}
	}
	if sp.ChildPort, err = parsePort(childPort); err != nil {
		return bad("container port: " + err.Error())
	}
	sp.Parent = netip.AddrPortFrom(pa, hp)
	if err := sp.Validate(); err != nil {
		return Spec{}, err
	}
	return sp, nil
}

type field struct {
	text      string
	bracketed bool
}

// splitFields splits at colons outside brackets.
func splitFields(s string) ([]field, error) {
	var out []field
	for {
		var f field
		if strings.HasPrefix(s, "[") {
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed '['")
			}
			f = field{text: s[1:end], bracketed: true}
			s = s[end+1:]
			if s != "" && s[0] != ':' {
				return nil, fmt.Errorf("want ':' after ']'")
			}
		} else {
			end := strings.IndexByte(s, ':')
			if end < 0 {
				end = len(s)
			}
			f = field{text: s[:end]}
			s = s[end:]
			if strings.ContainsAny(f.text, "[]") {
				return nil, fmt.Errorf("misplaced bracket")
			}
		}
		out = append(out, f)
		if len(out) > 4 {
			return nil, fmt.Errorf("too many ':' (write IPv6 addresses in brackets)")
		}
		if s == "" {
			return out, nil
		}
		s = s[1:] // the ':'
		if s == "" {
			return nil, fmt.Errorf("trailing ':'")
		}
	}
}

func parseAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fmt.Errorf("empty address")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", clip(s))
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: zones are not supported", clip(s))
	}
	return a.Unmap(), nil
}

func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("%q is not a port number", clip(s))
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a port number (ranges are not supported)", clip(s))
		}
	}
	n, _ := strconv.Atoi(s)
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%d is not in 1-65535", n)
	}
	return uint16(n), nil
}

// String formats s as ParseSpec reads it. A child address without a parent
// address is written with the unspecified parent address (0.0.0.0, or ::
// for tcp6 and udp6), as the four-field form needs one.
func (s Spec) String() string {
	var b strings.Builder
	pa := s.Parent.Addr()
	if s.ChildIP.IsValid() && !pa.IsValid() {
		pa = unspecified(s.proto(), s.ChildIP)
	}
	if pa.IsValid() {
		writeAddr(&b, pa)
		b.WriteByte(':')
	}
	b.WriteString(strconv.Itoa(int(s.Parent.Port())))
	b.WriteByte(':')
	if s.ChildIP.IsValid() {
		writeAddr(&b, s.ChildIP)
		b.WriteByte(':')
	}
	b.WriteString(strconv.Itoa(int(s.ChildPort)))
	b.WriteByte('/')
	b.WriteString(string(s.proto()))
	return b.String()
}

func unspecified(p Proto, hint netip.Addr) netip.Addr {
	if p.Family() == 6 || p.Family() == 0 && hint.Is6() {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func writeAddr(b *strings.Builder, a netip.Addr) {
	if a.Is6() {
		b.WriteByte('[')
		b.WriteString(a.String())
		b.WriteByte(']')
		return
	}
	b.WriteString(a.String())
}

// RootlessKit converts s to RootlessKit's port.Spec (for parent.Opt.PublishPorts
// and the REST API). An unspecified parent address becomes the empty ParentIP.
func (s Spec) RootlessKit() port.Spec {
	ps := port.Spec{
		Proto:      string(s.proto()),
		ParentPort: int(s.Parent.Port()),
		ChildPort:  int(s.ChildPort),
	}
	if a := s.Parent.Addr(); a.IsValid() {
		ps.ParentIP = a.String()
	}
	if s.ChildIP.IsValid() {
		ps.ChildIP = s.ChildIP.String()
	}
	return ps
}

// FromRootlessKit converts RootlessKit's port.Spec, as the REST API
// returns it, and validates it.
func FromRootlessKit(ps port.Spec) (Spec, error) {
	var s Spec
	s.Proto = Proto(ps.Proto)
	if ps.ParentPort < 1 || ps.ParentPort > 65535 || ps.ChildPort < 1 || ps.ChildPort > 65535 {
		return Spec{}, fmt.Errorf("portdriver: invalid RootlessKit spec: ports %d and %d", ps.ParentPort, ps.ChildPort)
	}
	var pa netip.Addr
	var err error
	if ps.ParentIP != "" {
		if pa, err = parseAddr(ps.ParentIP); err != nil {
			return Spec{}, fmt.Errorf("portdriver: invalid RootlessKit spec: parent IP: %w", err)
		}
	}
	if ps.ChildIP != "" {
		if s.ChildIP, err = parseAddr(ps.ChildIP); err != nil {
			return Spec{}, fmt.Errorf("portdriver: invalid RootlessKit spec: child IP: %w", err)
		}
	}
	s.Parent = netip.AddrPortFrom(pa, uint16(ps.ParentPort))
	s.ChildPort = uint16(ps.ChildPort)
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// CheckPublish reports whether the port driver p can publish specs from the
// start (RootlessKit --publish, parent.Opt.PublishPorts): it must have a
// port API and support each spec's protocol, and each spec must be valid.
func CheckPublish(p Driver, specs ...Spec) error {
	if len(specs) == 0 {
		return nil
	}
	props := p.Properties()
	if !props.API {
		return noAPI(p.Name(), "")
	}
	var errs []error
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, protoSupported(p.Name(), props.Protos, s.proto()))
	}
	return errors.Join(errs...)
}

// PublishFlags returns --publish flags for an external rootlesskit binary
// that publish specs when it starts (RootlessKit's format needs a parent
// address, so an unspecified one is written as 0.0.0.0 or [::]). The port
// driver p must have an API and support each protocol. In the embedded
// engine pass Spec.RootlessKit() values in parent.Opt.PublishPorts instead.
func PublishFlags(p Driver, specs ...Spec) ([]string, error) {
	if err := CheckPublish(p, specs...); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range specs {
		t := s
		if !t.Parent.Addr().IsValid() {
			t.Parent = netip.AddrPortFrom(unspecified(t.proto(), t.ChildIP), t.Parent.Port())
		}
		out = append(out, "--publish="+t.String())
	}
	return out, nil
}
