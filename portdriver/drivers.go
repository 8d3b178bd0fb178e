package portdriver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rootlessd/rootlessd/netdriver"
)

var (
	allProtos  = []Proto{TCP, TCP4, TCP6, UDP, UDP4, UDP6}
	ipv4Protos = []Proto{TCP, TCP4, UDP, UDP4}
)

// Builtin is RootlessKit's own port driver (--port-driver=builtin), the
// default for every network but pasta (with pasta it runs only in the
// embedded engine: the rootlesskit command refuses the pair, see
// [netdriver.IDEmbeddedOnly]): the RootlessKit parent listens on
// the host and hands each connection to the child, which dials the
// container's port inside the namespace. Fast (about 30 Gbps), TCP and UDP
// over IPv4 and IPv6. Since RootlessKit 3.0 it keeps the client's source IP
// for TCP (IP_TRANSPARENT plus nft or iptables rules in the namespace), but
// dockerd's userland proxy hides it again: run dockerd with
// --userland-proxy=false to see it. UDP source IPs are not kept.
//
// The parent process binds the host ports, so ports below
// net.ipv4.ip_unprivileged_port_start need CAP_NET_BIND_SERVICE on the
// rootlesskit binary, or on the helper executable in the embedded engine.
type Builtin struct {
	// DisableSourceIPTransparent turns source-IP keeping off
	// (--source-ip-transparent=false, RootlessKit 3.0). Before 3.0 the
	// source IP is never kept and the flag is not passed.
	DisableSourceIPTransparent bool `json:"disableSourceIPTransparent,omitempty"`
	// SourceIPTransparentBackend forces the firewall backend for keeping
	// source IPs: "nft" or "iptables"; "" or "auto" lets RootlessKit pick
	// (nft, else iptables). Setting it needs RootlessKit 3.3.
	SourceIPTransparentBackend string `json:"sourceIPTransparentBackend,omitempty"`
}

var _ Driver = Builtin{}

// Name returns "builtin".
func (Builtin) Name() string { return NameBuiltin }

func (b Builtin) validate() error {
	switch b.SourceIPTransparentBackend {
	case "", "auto", "nft", "iptables":
		return nil
	}
	return netdriver.Problem(netdriver.IDInvalidConfig, NameBuiltin, fmt.Sprintf("unknown SourceIPTransparentBackend %q", clip(b.SourceIPTransparentBackend)), "set SourceIPTransparentBackend to auto, nft, iptables or leave it empty")
}

func (b Builtin) backend() string {
	if b.SourceIPTransparentBackend == "" {
		return "auto"
	}
	return b.SourceIPTransparentBackend
}

// Check rejects the host network. Unless source-IP keeping is
// off, it warns when the firewall program it needs (nft or iptables) is
// missing: ports still work, but servers see the proxy's address.
func (b Builtin) Check(ctx context.Context, h *netdriver.Host, net netdriver.Driver) error {
	if err := begin(ctx, h, NameBuiltin); err != nil {
		return err
	}
	errs := []error{b.validate(), Validate(net, b)}
	if !b.DisableSourceIPTransparent {
		var want []string
		switch b.backend() {
		case "auto":
			want = []string{"nft", "iptables"}
		default:
			want = []string{b.backend()}
		}
		found := false
		for _, w := range want {
			if _, err := h.LookPath(w); err == nil {
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, netdriver.Warn(netdriver.IDSourceIPBackend, NameBuiltin, fmt.Sprintf("%s not found in PATH: with RootlessKit 3.0 or later the client's source IP cannot be kept", orList(want)), "install nftables or iptables (apt-get install nftables; dnf install nftables), or set DisableSourceIPTransparent"))
		}
	}
	return errors.Join(errs...)
}

// Properties reports a fast driver that keeps TCP source IPs on
// RootlessKit 3 (unless disabled), with every protocol.
func (b Builtin) Properties() Properties {
	src := netdriver.SourceIPKeptTCP
	if b.DisableSourceIPTransparent {
		src = netdriver.SourceIPLost
	}
	return Properties{
		Throughput:     netdriver.Fast,
		SourceIP:       src,
		SourceIPSince:  v3_0,
		Protos:         slices.Clone(allProtos),
		API:            true,
		Networks:       []string{netdriver.NameSlirp4netns, netdriver.NamePasta, netdriver.NameVPNKit, netdriver.NameLXCUserNIC, netdriver.NameGVisorTapVsock, netdriver.NameNone},
		Binder:         BinderParent,
		MinRootlessKit: netdriver.Version{Major: 1},
		Notes:          "default except for pasta (with pasta only in the embedded engine); source IP kept for TCP since RootlessKit 3.0 with dockerd's userland proxy disabled",
	}
}

// Flags returns --port-driver=builtin and, on RootlessKit 3, the
// source-IP options that differ from the defaults.
func (b Builtin) Flags(v netdriver.Version, net netdriver.Driver) ([]string, error) {
	if err := checkFlags(NameBuiltin, v, netdriver.Version{Major: 1}, net, b); err != nil {
		return nil, err
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	if net.Name() == netdriver.NamePasta {
		return nil, netdriver.Problem(netdriver.IDEmbeddedOnly, NameBuiltin,
			"the rootlesskit command refuses port driver builtin with network pasta; RootlessKit's library runs the pair",
			"use the embedded engine for pasta with builtin, or port driver implicit or pesto with the rootlesskit command")
	}
	f := []string{"--port-driver=builtin"}
	if b.DisableSourceIPTransparent && v.AtLeast(v3_0) {
		f = append(f, "--source-ip-transparent=false")
	}
	if be := b.backend(); be != "auto" {
		if err := netdriver.RequireVersion(NameBuiltin, "--source-ip-transparent-backend", v, v3_3); err != nil {
			return nil, err
		}
		f = append(f, "--source-ip-transparent-backend="+be)
	}
	return f, nil
}

// Slirp4netns forwards ports through slirp4netns's API socket
// (--port-driver=slirp4netns; only with the slirp4netns network). Slow
// (about 8 Gbps) but keeps the client's source IP for TCP and UDP on every
// RootlessKit version. IPv4 only. slirp4netns itself binds the host ports.
type Slirp4netns struct{}

var _ Driver = Slirp4netns{}

// Name returns "slirp4netns".
func (Slirp4netns) Name() string { return NameSlirp4netns }

// Check needs the slirp4netns network, whose slirp4netns must have
// --api-socket.
func (s Slirp4netns) Check(ctx context.Context, h *netdriver.Host, net netdriver.Driver) error {
	if err := begin(ctx, h, NameSlirp4netns); err != nil {
		return err
	}
	if err := Validate(net, s); err != nil {
		return err
	}
	return checkPort(ctx, h, net, NameSlirp4netns)
}

// Properties reports a slow, IPv4-only driver that keeps source IPs.
func (Slirp4netns) Properties() Properties {
	return Properties{
		Throughput:              netdriver.Slow,
		SourceIP:                netdriver.SourceIPKept,
		Protos:                  slices.Clone(ipv4Protos),
		API:                     true,
		Networks:                []string{netdriver.NameSlirp4netns},
		DisallowLoopbackChildIP: true,
		Binder:                  BinderNetworkProgram,
		MinRootlessKit:          netdriver.Version{Major: 1},
		Notes:                   "keeps source IPs on any RootlessKit; slow; IPv4 only",
	}
}

// Flags returns --port-driver=slirp4netns.
func (s Slirp4netns) Flags(v netdriver.Version, net netdriver.Driver) ([]string, error) {
	if err := checkFlags(NameSlirp4netns, v, netdriver.Version{Major: 1}, net, s); err != nil {
		return nil, err
	}
	return []string{"--port-driver=slirp4netns"}, nil
}

// Implicit lets pasta forward every port that something listens on inside
// the namespace (--port-driver=implicit; only with the pasta network,
// RootlessKit 2.0; pasta 2023_12_04 recommended). Fast and keeps source
// IPs, but there is no port API: dockerd does not manage ports, and any
// listener in the namespace becomes reachable from the host, including
// ones never meant to be published. pasta skips the host's ephemeral ports
// (net.ipv4.ip_local_port_range), so publishes on them, including every
// port dockerd picks (docker run -P), are unreachable; a 127.0.0.1 publish
// is bound on all addresses but served to the host's loopback only.
type Implicit struct{}

var _ Driver = Implicit{}

// Name returns "implicit".
func (Implicit) Name() string { return NameImplicit }

// Check needs the pasta network and a pasta of 2023_12_04 or later.
func (d Implicit) Check(ctx context.Context, h *netdriver.Host, net netdriver.Driver) error {
	if err := begin(ctx, h, NameImplicit); err != nil {
		return err
	}
	if err := Validate(net, d); err != nil {
		return err
	}
	return checkPort(ctx, h, net, NameImplicit)
}

// Properties reports a fast driver without API that keeps source IPs.
func (Implicit) Properties() Properties {
	return Properties{
		Throughput:     netdriver.Fast,
		SourceIP:       netdriver.SourceIPKept,
		Networks:       []string{netdriver.NamePasta},
		Binder:         BinderNetworkProgram,
		MinRootlessKit: v2_0,
		Notes:          "pasta forwards every listening port; no port API",
	}
}

// Flags returns --port-driver=implicit (RootlessKit 2.0).
func (d Implicit) Flags(v netdriver.Version, net netdriver.Driver) ([]string, error) {
	if err := checkFlags(NameImplicit, v, v2_0, net, d); err != nil {
		return nil, err
	}
	return []string{"--port-driver=implicit"}, nil
}

// Pesto manages pasta's forwarded ports explicitly through the pesto
// program (--port-driver=pesto; experimental; only with the pasta network;
// RootlessKit 3.1; pasta and pesto 2026_05_07). Fast, keeps source IPs, and
// unlike implicit has a port API, so only published ports are reachable,
// and a 127.0.0.1 publish binds 127.0.0.1 only. IPv4 only: RootlessKit
// accepts IPv6 ports when the pasta network has IPv6, but dockerd then
// forwards them to the namespace's IPv4 address, so Check refuses pesto on
// an IPv6 network. The child IP is always the namespace's address.
type Pesto struct {
	// Binary is the pesto program. Default: "pesto".
	Binary string `json:"binary,omitempty"`
}

var _ Driver = Pesto{}

// Name returns "pesto".
func (Pesto) Name() string { return NamePesto }

func (d Pesto) program() string {
	if d.Binary == "" {
		return "pesto"
	}
	return d.Binary
}

func (d Pesto) validate() error {
	if d.Binary == "" {
		return nil
	}
	if strings.ContainsAny(d.Binary, "\x00\n") || (strings.Contains(d.Binary, "/") && !strings.HasPrefix(d.Binary, "/")) {
		return netdriver.Problem(netdriver.IDInvalidConfig, NamePesto, fmt.Sprintf("Binary %q is neither a program name nor an absolute path", clip(d.Binary)), "set Binary to a name looked up in PATH or to an absolute path")
	}
	return nil
}

const fixPesto = "install passt " + netdriver.PastaPesto + " or later, which provides pesto, or use the implicit port driver"

// Check needs the pasta network without IPv6, with pasta 2026_05_07 (or
// one that accepts --conf-path) and the pesto program.
func (d Pesto) Check(ctx context.Context, h *netdriver.Host, net netdriver.Driver) error {
	if err := begin(ctx, h, NamePesto); err != nil {
		return err
	}
	if err := Validate(net, d); err != nil {
		return err
	}
	errs := []error{d.validate()}
	if _, err := h.LookPath(d.program()); err != nil {
		errs = append(errs, netdriver.Problem(netdriver.IDBinaryMissing, NamePesto, err.Error(), fixPesto))
	}
	if net.Properties().IPv6 {
		// RootlessKit tells dockerd one child address, the IPv4 one, and dockerd (moby's
		// rlkclient, v2.0.0-beta.24) uses it for IPv6 host addresses too.
		errs = append(errs, netdriver.Problem(netdriver.IDUnsupported, NamePesto,
			"with IPv6 on the network, dockerd forwards IPv6 host ports to the namespace's IPv4 address: `docker run -p 8080:80` fails (\"failed to bind host port 10.0.2.100:8080/tcp: address already in use\") and IPv6-only publishes reset every connection",
			"use port driver implicit for IPv6 publishes, or pesto without IPv6"))
	}
	errs = append(errs, checkPort(ctx, h, net, NamePesto))
	return errors.Join(errs...)
}

// Properties reports a fast, experimental driver with API that keeps
// source IPs (IPv4 protocols; IPv6 too when the network has IPv6).
func (Pesto) Properties() Properties {
	return Properties{
		Throughput:              netdriver.Fast,
		SourceIP:                netdriver.SourceIPKept,
		Protos:                  slices.Clone(ipv4Protos),
		API:                     true,
		Networks:                []string{netdriver.NamePasta},
		Experimental:            true,
		DisallowLoopbackChildIP: true,
		Binder:                  BinderNetworkProgram,
		MinRootlessKit:          v3_1,
		Notes:                   "experimental; pasta " + netdriver.PastaPesto + "; IPv4 only, refused on an IPv6 network",
	}
}

// Flags returns --port-driver=pesto (RootlessKit 3.1).
func (d Pesto) Flags(v netdriver.Version, net netdriver.Driver) ([]string, error) {
	if err := checkFlags(NamePesto, v, v3_1, net, d); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if d.Binary != "" {
		return []string{"--port-driver=pesto", "--pesto-binary=" + d.Binary}, nil
	}
	return []string{"--port-driver=pesto"}, nil
}

// GVisorTapVsock forwards ports through gvisor-tap-vsock's in-process
// network (--port-driver=gvisor-tap-vsock; experimental; only with the
// gvisor-tap-vsock network; RootlessKit 3.0). Slow (about 4 Gbps), IPv4
// only, and the source IP is lost (rootlesskit#573): Docker's docs
// recommend the builtin port driver with the gvisor-tap-vsock network.
type GVisorTapVsock struct{}

var _ Driver = GVisorTapVsock{}

// Name returns "gvisor-tap-vsock".
func (GVisorTapVsock) Name() string { return NameGVisorTapVsock }

// Check needs the gvisor-tap-vsock network.
func (d GVisorTapVsock) Check(ctx context.Context, h *netdriver.Host, net netdriver.Driver) error {
	if err := begin(ctx, h, NameGVisorTapVsock); err != nil {
		return err
	}
	return Validate(net, d)
}

// Properties reports a slow, experimental driver that loses source IPs.
func (GVisorTapVsock) Properties() Properties {
	return Properties{
		Throughput:              netdriver.Slow,
		SourceIP:                netdriver.SourceIPLost,
		Protos:                  slices.Clone(ipv4Protos),
		API:                     true,
		Networks:                []string{netdriver.NameGVisorTapVsock},
		Experimental:            true,
		DisallowLoopbackChildIP: true,
		Binder:                  BinderParent,
		MinRootlessKit:          v3_0,
		Notes:                   "experimental; not recommended: slow and loses the source IP",
	}
}

// Flags returns --port-driver=gvisor-tap-vsock (RootlessKit 3.0).
func (d GVisorTapVsock) Flags(v netdriver.Version, net netdriver.Driver) ([]string, error) {
	if err := checkFlags(NameGVisorTapVsock, v, v3_0, net, d); err != nil {
		return nil, err
	}
	return []string{"--port-driver=gvisor-tap-vsock"}, nil
}

// None publishes no ports (--port-driver=none, RootlessKit's default). It
// works with every network, including host.
type None struct{}

var _ Driver = None{}

// Name returns "none".
func (None) Name() string { return NameNone }

// Check accepts every network that accepts it.
func (d None) Check(ctx context.Context, h *netdriver.Host, net netdriver.Driver) error {
	if err := begin(ctx, h, NameNone); err != nil {
		return err
	}
	return Validate(net, d)
}

// Properties reports no API and no ports.
func (None) Properties() Properties {
	return Properties{
		Networks:       netdriver.Names(),
		MinRootlessKit: netdriver.Version{Major: 1},
		Notes:          "publishes no ports",
	}
}

// Flags returns --port-driver=none.
func (d None) Flags(v netdriver.Version, net netdriver.Driver) ([]string, error) {
	if err := checkFlags(NameNone, v, netdriver.Version{Major: 1}, net, d); err != nil {
		return nil, err
	}
	return []string{"--port-driver=none"}, nil
}
