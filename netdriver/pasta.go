package netdriver

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
)

// Pasta is the pasta (passt) network (--net=pasta, experimental,
// RootlessKit 2.0 or later). Its port drivers are "implicit" (the default:
// pasta forwards every port listened on in the namespace; needs pasta
// 2023_12_04) and "pesto" (explicit ports through the API; IPv4 only;
// needs pasta 2026_05_07 and RootlessKit 3.1). Both keep the client's
// source IP. implicit forwards only ports outside the host's ephemeral
// range (net.ipv4.ip_local_port_range, 32768-60999 by default): pasta never
// binds those, so a container port published on one is unreachable, and so
// is every port dockerd picks itself (docker run -P, or -p 80 without a
// host port), since it picks them from that range.
//
// The embedded engine also runs pasta with the builtin port driver
// (RootlessKit's own forwarder, with a port API and TCP source IPs), which
// needs no pesto; the rootlesskit command refuses that pair
// ([IDEmbeddedOnly]).
//
// The namespace gets 10.0.2.100/24, gateway 10.0.2.2 and DNS 10.0.2.3. With
// HostLoopback pasta maps the gateway address to the host (its default;
// without it RootlessKit passes --no-map-gw), so 10.0.2.2 reaches the
// host's 127.0.0.1.
type Pasta struct {
	// Binary is the pasta program. Default: "pasta".
	Binary string `json:"binary,omitempty"`
	// MTU of the namespace's interface. Default (0): 65520.
	MTU int `json:"mtu,omitempty"`
	// CIDR is the IPv4 network. Default (zero): 10.0.2.0/24.
	CIDR netip.Prefix `json:"cidr,omitzero"`
	// IfName is the interface name in the namespace. Default: tap0.
	IfName string `json:"ifname,omitempty"`
	// HostLoopback lets the namespace reach the host's loopback at the
	// gateway address. Default false (--disable-host-loopback).
	HostLoopback bool `json:"hostLoopback,omitempty"`
	// IPv6 enables IPv6 (fd00::100; without it pasta runs --ipv4-only).
	// Publishing IPv6 ports needs it with implicit; pesto refuses it (see
	// portdriver.Pesto).
	IPv6 bool `json:"ipv6,omitempty"`
}

var _ Driver = Pasta{}

// Name returns "pasta".
func (Pasta) Name() string { return NamePasta }

func (p Pasta) program() string { return orDefault(p.Binary, "pasta") }

func (p Pasta) cidr() netip.Prefix {
	if p.CIDR == (netip.Prefix{}) {
		return defaultCIDR
	}
	return p.CIDR
}

func (p Pasta) validate() error {
	return join([]error{
		validateBinary(NamePasta, "Binary", p.Binary),
		validateMTU(NamePasta, p.MTU, p.IPv6),
		validateCIDR(NamePasta, p.CIDR),
		validateIfName(NamePasta, "IfName", p.IfName),
	})
}

const fixPasta = "install passt " + PastaImplicit + " or later (apt-get install passt; dnf install passt), or an upstream build from https://passt.top"

// PastaInfo is what [ProbePasta] found out about a pasta program.
type PastaInfo struct {
	// Path is the absolute path of the program.
	Path string
	// Version is the release pasta printed, or else the one its package
	// manager recorded (see Source). Version.Known() is false if neither
	// says.
	Version PastaVersion
	// Source says where Version came from: `"/usr/bin/pasta --version"`
	// or `dpkg: passt 0.0~git20230309.7c7625d-1`.
	Source string
}

// ProbePasta finds pasta (binary: a name or absolute path, "" for "pasta")
// on h and reads its version. If pasta prints no release (Debian 12's
// "unknown version", or nothing at all, as Debian 13's does when its output
// is not a terminal), the version recorded by dpkg for the package that
// owns the program is used, and Source says so; otherwise the version stays
// unknown.
func ProbePasta(ctx context.Context, h *Host, binary string) (PastaInfo, error) {
	p, err := lookProgram(h, NamePasta, orDefault(binary, "pasta"), fixPasta)
	if err != nil {
		return PastaInfo{}, err
	}
	out, err := probe(ctx, h, NamePasta, p, []string{"--version"}, fixPasta)
	if err != nil {
		return PastaInfo{Path: p}, err
	}
	var v PastaVersion
	if len(bytes.TrimSpace(out)) > 0 {
		if v, err = ParsePastaVersion(out); err != nil {
			return PastaInfo{Path: p}, withErr(Problem(IDBinaryFailed, NamePasta, fmt.Sprintf("%q", p+" --version"), fixPasta), err, "")
		}
	}
	// else: it succeeded without a word. Debian 13's pasta (0.0~git20250503) prints its version
	// only to a terminal: it exits without flushing stdio, so a pipe gets nothing.
	info := PastaInfo{Path: p, Version: v, Source: fmt.Sprintf("%q", p+" --version")}
	if !v.Known() {
		if dv, ok := dpkgPastaVersion(h, p); ok {
			info.Version = parsePastaRelease(dv)
			info.Version.Raw = dv
			if info.Version.Known() {
				info.Source = "dpkg: passt " + dv
			} else {
				info.Version = v
			}
		}
	}
	return info, nil
}

// dpkgPastaVersion returns the version of the installed passt package if it
// owns the program at p (also under the /usr merge).
func dpkgPastaVersion(h *Host, p string) (string, bool) {
	list, err := h.ReadFile("/var/lib/dpkg/info/passt.list")
	if err != nil {
		return "", false
	}
	alt := p
	if rest, ok := strings.CutPrefix(p, "/usr"); ok {
		alt = rest
	} else {
		alt = "/usr" + p
	}
	owned := false
	for _, l := range strings.Split(string(list), "\n") {
		if l = strings.TrimSpace(l); l == p || l == alt {
			owned = true
			break
		}
	}
	if !owned {
		return "", false
	}
	status, err := h.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		return "", false
	}
	return dpkgVersion(status, "passt")
}

// pastaTooOld reports pasta older than release, or unknown (a warning).
func pastaTooOld(info PastaInfo, release, why string) error {
	if !info.Version.Known() {
		return Warn(IDPastaVersionUnknown, NamePasta, fmt.Sprintf("%s %s, so the release cannot be verified against %s (%s)", info.Source, info.printed(), release, why),
			fmt.Sprintf("make sure passt is %s or later (dpkg -s passt, rpm -q passt), or install an upstream build that reports its release", release))
	}
	if !info.Version.AtLeast(release) {
		want := max(release, PastaImplicit)
		return Problem(IDPastaTooOld, NamePasta, fmt.Sprintf("pasta %s (from %s) is older than %s, %s", info.Version, info.Source, release, why), fmt.Sprintf("install passt %s or later (distribution backports or https://passt.top)", want))
	}
	return nil
}

// Check finds pasta and reads its release: it must be 2023_06_25 or later
// (RootlessKit's minimum). A pasta that prints "unknown version" is checked
// against its dpkg record; if that is missing too, Check returns a warning
// saying the release is unknown. The port drivers' own minimums are checked
// by [Pasta.CheckPort].
func (p Pasta) Check(ctx context.Context, h *Host) error {
	if err := begin(ctx, h, NamePasta); err != nil {
		return err
	}
	errs := []error{p.validate()}
	info, err := ProbePasta(ctx, h, p.program())
	if cerr := checkCtx(ctx, NamePasta); cerr != nil {
		return cerr
	}
	if err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, pastaTooOld(info, PastaMinimum, "the oldest release RootlessKit's pasta driver works with"))
	}
	errs = append(errs, checkNamespaceTools(h, NamePasta, false)...)
	return join(errs)
}

// CheckPort implements [PortChecker]: implicit needs pasta 2023_12_04;
// pesto needs pasta 2026_05_07, or, when the release is unknown, a pasta
// that accepts --conf-path (the feature RootlessKit probes).
func (p Pasta) CheckPort(ctx context.Context, h *Host, portDriver string) error {
	if err := begin(ctx, h, NamePasta); err != nil {
		return err
	}
	switch portDriver {
	case portImplicit, "":
		info, err := ProbePasta(ctx, h, p.program())
		if err != nil {
			return err
		}
		return pastaTooOld(info, PastaImplicit, "recommended for the implicit port driver")
	case portPesto:
		info, err := ProbePasta(ctx, h, p.program())
		if err != nil {
			return err
		}
		if info.Version.Known() {
			return pastaTooOld(info, PastaPesto, "needed by the pesto port driver (--conf-path)")
		}
		if _, err := h.Output(ctx, info.Path, "--conf-path=/dev/null", "--version"); err != nil {
			if cerr := checkCtx(ctx, NamePasta); cerr != nil {
				return cerr
			}
			return Problem(IDPastaTooOld, NamePasta, fmt.Sprintf("%q fails, so pasta lacks --conf-path, which the pesto port driver needs (passt %s)", info.Path+" --conf-path=/dev/null --version", PastaPesto), fmt.Sprintf("install passt %s or later, or use the implicit port driver", PastaPesto))
		}
	}
	return nil
}

// RootlessKit releases that fixed its pasta driver, and the pasta release one fix is for.
var (
	// v2_3_2 passes --host-lo-to-ns-lo (rootlesskit#482).
	v2_3_2 = Version{2, 3, 2}
	// v3_1 passes --tcp-ns=none --udp-ns=none with --disable-host-loopback (rootlesskit#612).
	v3_1 = Version{3, 1, 0}
)

// pastaHostLoToNsLo is the first pasta that sends connections from the host's loopback to the
// namespace's external address unless told --host-lo-to-ns-lo (passt commit b4dace8).
const pastaHostLoToNsLo = "2024_10_30"

// RootlessKitWarnings names what RootlessKit v gets wrong with this pasta and port driver:
// loopback publishes that reset every connection (implicit before 2.3.2, with pasta 2024_10_30
// or later), and a host loopback left open despite --disable-host-loopback (before 3.1).
func (p Pasta) RootlessKitWarnings(ctx context.Context, h *Host, v Version, port string) []*diag.Finding {
	var out []*diag.Finding
	if port == portImplicit && !v.AtLeast(v2_3_2) {
		if info, err := ProbePasta(ctx, h, p.program()); err == nil && info.Version.AtLeast(pastaHostLoToNsLo) {
			out = append(out, Warn(IDRootlessKitTooOld, NamePasta,
				fmt.Sprintf("with RootlessKit %s and pasta %s, `docker run -p 127.0.0.1:PORT:...` resets every connection: pasta %s and later send connections from the host's loopback to the namespace's external address unless RootlessKit passes --host-lo-to-ns-lo, which RootlessKit %s does (rootlesskit#482)",
					v, info.Version, pastaHostLoToNsLo, v2_3_2),
				fmt.Sprintf("upgrade RootlessKit to %s or later, or use the embedded engine", v2_3_2)))
		}
	}
	if !p.HostLoopback && !v.AtLeast(v3_1) {
		out = append(out, Warn(IDRootlessKitTooOld, NamePasta,
			fmt.Sprintf("RootlessKit %s keeps pasta's loopback path open despite --disable-host-loopback: processes in its network namespace (dockerd, --net=host containers) reach the host's loopback; RootlessKit %s closes it (--tcp-ns=none --udp-ns=none, rootlesskit#612)", v, v3_1),
			fmt.Sprintf("upgrade RootlessKit to %s or later, or use the embedded engine", v3_1)))
	}
	return out
}

func (p Pasta) describe(ctx context.Context, h *Host) string {
	info, err := ProbePasta(ctx, h, p.program())
	if err != nil {
		return "pasta"
	}
	if info.Version.Known() {
		return fmt.Sprintf("pasta %s (from %s)", info.Version, info.Source)
	}
	return fmt.Sprintf("pasta of unknown release (%s %s)", info.Source, info.printed())
}

// printed says what pasta printed when its version is unknown: `prints "unknown version"`, or
// "prints nothing".
func (info PastaInfo) printed() string {
	if info.Version.Raw == "" {
		return "prints nothing"
	}
	return fmt.Sprintf("prints %q", info.Version.Raw)
}

// Properties reports slow networking with the implicit port driver (fast,
// source IP kept) and MTU 65520 by default.
func (p Pasta) Properties() Properties {
	return Properties{
		Namespace:         true,
		Experimental:      true,
		NetThroughput:     Slow,
		DefaultMTU:        mtuUserMode,
		MTU:               mtuOr(p.MTU, mtuUserMode),
		IPv6:              p.IPv6,
		HostLoopback:      p.HostLoopback,
		HostGateway:       nthAddr(p.cidr(), 2),
		DefaultPortDriver: portImplicit,
		PortDrivers:       []string{portImplicit, portPesto, portBuiltin, portNone},
		MinRootlessKit:    v2_0,
		Program:           p.program(),
		Notes: "experimental; implicit needs pasta " + PastaImplicit + " and skips the host's ephemeral ports; pesto needs pasta " + PastaPesto +
			" (IPv4 only); IPv6 publishes need IPv6 and implicit; builtin only in the embedded engine",
	}
}

// Flags returns --net=pasta and its options (RootlessKit 2.0; pesto 3.1).
func (p Pasta) Flags(v Version, portDriver string) ([]string, error) {
	if err := CheckTarget(NamePasta, v); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	port, err := portName(NamePasta, p.Properties(), portDriver)
	if err != nil {
		return nil, err
	}
	if err := RequireVersion(NamePasta, "--net=pasta", v, v2_0); err != nil {
		return nil, err
	}
	if port == portBuiltin {
		return nil, Problem(IDEmbeddedOnly, NamePasta,
			`the rootlesskit command refuses port driver builtin with network pasta ("network \"pasta\" requires port driver \"none\" or \"implicit\" or \"pesto\""); RootlessKit's library runs the pair`,
			"use the embedded engine for pasta with builtin, or port driver implicit or pesto with the rootlesskit command")
	}
	if port == portPesto {
		if err := RequireVersion(NamePasta, "--port-driver=pesto", v, Version{3, 1, 0}); err != nil {
			return nil, err
		}
	}
	f := []string{"--net=pasta", "--mtu=" + strconv.Itoa(mtuOr(p.MTU, mtuUserMode))}
	if p.CIDR != (netip.Prefix{}) {
		f = append(f, "--cidr="+p.CIDR.String())
	}
	if p.IfName != "" {
		f = append(f, "--ifname="+p.IfName)
	}
	if !p.HostLoopback {
		f = append(f, "--disable-host-loopback")
	}
	if p.IPv6 {
		f = append(f, "--ipv6")
	}
	if p.Binary != "" {
		f = append(f, "--pasta-binary="+p.Binary)
	}
	return f, nil
}
