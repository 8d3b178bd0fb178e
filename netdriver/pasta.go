package netdriver

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/pasta"
)

// Pasta is the pasta (passt) network (--net=pasta, experimental,
// RootlessKit 2.0 or later). Its port drivers are "implicit" (the default:
// pasta forwards every port listened on in the namespace; needs pasta
// 2023_12_04) and "pesto" (explicit ports through the API; IPv4 only;
// needs pasta 2026_05_07 and RootlessKit 3.1). Both keep the client's
// source IP.
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
	// pesto forwards IPv6 ports only with it.
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
// on h and reads its version. If pasta prints no release (Debian's
// "unknown version"), the version recorded by dpkg for the package that
// owns the program is used, and Source says so; otherwise the version stays
// unknown. The same goes for no output at all: Debian 13's pasta (passt
// 0.0~git20250503) prints its version only when stdout is a terminal.
func ProbePasta(ctx context.Context, h *Host, binary string) (PastaInfo, error) {
	p, err := lookProgram(h, NamePasta, orDefault(binary, "pasta"), fixPasta)
	if err != nil {
		return PastaInfo{}, err
	}
	out, err := probe(ctx, h, NamePasta, p, []string{"--version"}, fixPasta)
	if err != nil {
		return PastaInfo{Path: p}, err
	}
	var v PastaVersion // Debian 13's pasta prints --version only to a terminal: nothing is unknown
	if len(bytes.TrimSpace(out)) > 0 {
		if v, err = ParsePastaVersion(out); err != nil {
			return PastaInfo{Path: p}, &Error{ID: IDBinaryFailed, Driver: NamePasta, Detail: fmt.Sprintf("%q", p+" --version"), Err: err, Fix: fixPasta}
		}
	}
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
		return &Error{ID: IDPastaVersionUnknown, Driver: NamePasta, Warning: true,
			Detail: fmt.Sprintf("%s prints %q, so the release cannot be verified against %s (%s)", info.Source, info.Version.String(), release, why),
			Fix:    fmt.Sprintf("make sure passt is %s or later (dpkg -s passt, rpm -q passt), or install an upstream build that reports its release", release)}
	}
	if !info.Version.AtLeast(release) {
		want := max(release, PastaImplicit)
		return &Error{ID: IDPastaTooOld, Driver: NamePasta,
			Detail: fmt.Sprintf("pasta %s (from %s) is older than %s, %s", info.Version, info.Source, release, why),
			Fix:    fmt.Sprintf("install passt %s or later (distribution backports or https://passt.top)", want)}
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
	case PortImplicit, "":
		info, err := ProbePasta(ctx, h, p.program())
		if err != nil {
			return err
		}
		return pastaTooOld(info, PastaImplicit, "recommended for the implicit port driver")
	case PortPesto:
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
			return &Error{ID: IDPastaTooOld, Driver: NamePasta,
				Detail: fmt.Sprintf("%q fails, so pasta lacks --conf-path, which the pesto port driver needs (passt %s)", info.Path+" --conf-path=/dev/null --version", PastaPesto),
				Fix:    fmt.Sprintf("install passt %s or later, or use the implicit port driver", PastaPesto)}
		}
	}
	return nil
}

func (p Pasta) describe(ctx context.Context, h *Host) string {
	info, err := ProbePasta(ctx, h, p.program())
	if err != nil {
		return "pasta"
	}
	if info.Version.Known() {
		return fmt.Sprintf("pasta %s (from %s)", info.Version, info.Source)
	}
	return fmt.Sprintf("pasta of unknown release (%s prints %q)", info.Source, info.Version.String())
}

// Properties reports slow networking with the implicit port driver (fast,
// source IP kept) and MTU 65520 by default.
func (p Pasta) Properties() Properties {
	return Properties{
		Namespace:         true,
		Experimental:      true,
		NetThroughput:     Slow,
		PortThroughput:    Fast,
		SourceIP:          SourceIPKept,
		DefaultMTU:        mtuUserMode,
		MTU:               mtuOr(p.MTU, mtuUserMode),
		IPv6:              p.IPv6,
		HostLoopback:      p.HostLoopback,
		HostGateway:       nthAddr(p.cidr(), 2),
		DefaultPortDriver: PortImplicit,
		PortDrivers:       []string{PortImplicit, PortPesto, PortNone},
		MinRootlessKit:    v2_0,
		Program:           p.program(),
		Notes:             "experimental; implicit needs pasta " + PastaImplicit + "; pesto needs pasta " + PastaPesto + " (IPv4 only without IPv6)",
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
	if port == PortPesto {
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

// Parent builds pasta's parent driver (it runs "pasta --version" and
// feature probes). With the pesto port driver pasta listens on
// [PestoSocket]; with implicit it forwards all ports (--tcp-ports=auto).
func (p Pasta) Parent(e Embedding) (network.ParentDriver, error) {
	if err := checkEmbedding(NamePasta, e); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	port, err := portName(NamePasta, p.Properties(), e.PortDriver)
	if err != nil {
		return nil, err
	}
	pesto := ""
	if port == PortPesto {
		pesto = filepath.Join(e.StateDir, PestoSocket)
	}
	d, err := pasta.NewParentDriver(e.log(), p.program(), mtuOr(p.MTU, mtuUserMode), toIPNet(p.CIDR), p.IfName, pesto,
		!p.HostLoopback, p.IPv6, port == PortImplicit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NamePasta, err)
	}
	return d, nil
}

// Child returns pasta's child-side driver (pasta configures the interface).
func (Pasta) Child() network.ChildDriver { return pasta.NewChildDriver() }
