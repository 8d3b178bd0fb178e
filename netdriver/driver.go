package netdriver

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
)

// Driver gives the rootless daemon's network namespace its connectivity.
// It is a description (a value), not a running thing: the same value
// produces the flags for an external rootlesskit binary ([Driver.Flags])
// and, on Linux, the RootlessKit drivers of the embedded engine (each driver
// of this package has Parent and Child methods for that).
//
// Contract, checked by netdriver/netdrivertest.Run:
//   - All methods MUST be safe for concurrent use and MUST NOT modify the
//     value. The values in this package are plain structs; their zero
//     value is ready to use and means "RootlessKit's and Docker's defaults".
//   - Name MUST return the same non-empty RootlessKit --net name on every
//     call (lowercase letters, digits and '-').
//   - Check MUST NOT change the host: it may read h.FS and run programs
//     that only print (--help, --version). It MUST return an error that
//     matches ctx.Err() when ctx is done, without probing further. Each
//     problem MUST be a [*diag.Finding] with a non-empty Fix ([Problem]
//     builds one).
//   - Properties MUST return equal results on every call and be
//     consistent: DefaultPortDriver is listed first in PortDrivers; MTU
//     and DefaultMTU are both 0 (no interface to configure, as for none
//     and host) or both set; HostLoopback implies a valid HostGateway.
//   - Flags MUST be deterministic, MUST reject the zero Version, and MUST
//     reject a RootlessKit version that lacks a flag or driver it needs
//     with an error matching [IDRootlessKitTooOld]. An empty portDriver
//     means DefaultPortDriver. A port driver name outside PortDrivers MUST
//     be rejected with an error matching [IDIncompatible].
//
// Only this package's drivers can run in the embedded engine, whose helper
// process must rebuild the value ([Encode]); third-party drivers run with
// an installed rootlesskit through their Flags.
type Driver interface {
	// Name returns the RootlessKit --net value, e.g. "slirp4netns".
	Name() string
	// Check reports what is missing on h for this driver, and how to fix
	// it, as [*diag.Finding] values joined with errors.Join. Warnings do not
	// stop the driver from working ([diag.Blocking] drops them).
	Check(ctx context.Context, h *Host) error
	// Properties describes the driver as configured.
	Properties() Properties
	// Flags returns the flags that select and configure this driver for
	// an external rootlesskit binary of version v, used together with the
	// port driver named portDriver ("" for the default).
	Flags(v Version, portDriver string) ([]string, error)
}

// Socket file names in the state directory, shared with package portdriver.
const (
	// Slirp4netnsAPISocket is slirp4netns's API socket, opened when the
	// slirp4netns port driver is used (as createParentOpt does).
	Slirp4netnsAPISocket = ".s4nn.sock"
	// PestoSocket is pasta's configuration socket for the pesto port driver.
	PestoSocket = ".pasta.sock"
)

// Throughput is a speed class from Docker's rootless driver table
// (dockerd-rootless.sh; RootlessKit docs/network.md and docs/port.md have
// the measured numbers).
type Throughput int

const (
	// ThroughputNA: not applicable (no traffic of that kind).
	ThroughputNA Throughput = iota
	// Slow: a user-mode TCP/IP stack copies every packet (about 1-8 Gbps).
	Slow
	// Fast: kernel paths or socket splicing (about 30 Gbps and more).
	Fast
)

// String returns "n/a", "slow" or "fast".
func (t Throughput) String() string {
	switch t {
	case Slow:
		return "slow"
	case Fast:
		return "fast"
	}
	return "n/a"
}

// SourceIP says whether a server behind a published port sees the client's
// real address.
type SourceIP int

const (
	// SourceIPNA: not applicable (no published ports).
	SourceIPNA SourceIP = iota
	// SourceIPLost: the server sees a proxy or gateway address.
	SourceIPLost
	// SourceIPKeptTCP: kept for TCP only, and only with RootlessKit 3.0 or
	// later and dockerd's userland proxy disabled (the builtin port
	// driver's IP_TRANSPARENT mode; Docker's table marks it "(*)").
	SourceIPKeptTCP
	// SourceIPKept: kept for TCP and UDP.
	SourceIPKept
)

// String returns "n/a", "lost", "kept for TCP (RootlessKit >= 3.0, no userland proxy)" or "kept".
func (s SourceIP) String() string {
	switch s {
	case SourceIPLost:
		return "lost"
	case SourceIPKeptTCP:
		return "kept for TCP (RootlessKit >= 3.0, no userland proxy)"
	case SourceIPKept:
		return "kept"
	}
	return "n/a"
}

// Properties describes a network driver value: the class of the driver (as
// in Docker's table) and the values it resolves to.
type Properties struct {
	// Namespace is true if the driver creates a network namespace (false
	// only for the host network).
	Namespace bool
	// InProcess is true if no external program is needed: the network
	// stack runs inside the RootlessKit parent process (gvisor-tap-vsock).
	InProcess bool
	// SUID is true if a setuid helper is needed (lxc-user-nic).
	SUID bool
	// Experimental is true if RootlessKit calls the driver experimental.
	Experimental bool
	// NetThroughput is the class of outbound throughput. Package
	// portdriver's Properties describe published ports.
	NetThroughput Throughput
	// DefaultMTU is the MTU used when the value's MTU field is 0: 65520 for
	// slirp4netns, pasta and gvisor-tap-vsock, 1500 for vpnkit and
	// lxc-user-nic, as in dockerd-rootless.sh (also when the driver is
	// chosen explicitly). 0 when there is no interface to configure.
	DefaultMTU int
	// MTU is the MTU this value configures.
	MTU int
	// IPv6 is true if IPv6 routing is enabled on this value.
	IPv6 bool
	// HostLoopback is true if this value lets the namespace reach the
	// host's 127.0.0.1 (no --disable-host-loopback).
	HostLoopback bool
	// HostGateway is the address inside the namespace that reaches the
	// host's loopback when HostLoopback is set: the value for dockerd's
	// "host-gateway-ip". Invalid if the driver cannot reach it.
	HostGateway netip.Addr
	// DefaultPortDriver is the port driver used when none is named:
	// "implicit" for pasta, else "builtin" (as dockerd-rootless.sh).
	DefaultPortDriver string
	// PortDrivers are the port drivers RootlessKit accepts with this
	// network, DefaultPortDriver first.
	PortDrivers []string
	// MinRootlessKit is the oldest RootlessKit with this network driver.
	MinRootlessKit Version
	// Program is the executable the driver runs ("" if none), as
	// configured or by its default name.
	Program string
	// Notes is a short human remark, as in Docker's table.
	Notes string
}

// Tristate is "auto", "true" or "false"; "" means "auto".
type Tristate string

// Tristate values.
const (
	Auto  Tristate = "auto"
	True  Tristate = "true"
	False Tristate = "false"
)

func (t Tristate) valid() bool { return t == "" || t == Auto || t == True || t == False }

func (t Tristate) orAuto() Tristate {
	if t == "" {
		return Auto
	}
	return t
}

// Names of the network drivers (RootlessKit --net values).
const (
	NameSlirp4netns    = "slirp4netns"
	NamePasta          = "pasta"
	NameVPNKit         = "vpnkit"
	NameLXCUserNIC     = "lxc-user-nic"
	NameGVisorTapVsock = "gvisor-tap-vsock"
	NameNone           = "none"
	NameHost           = "host"
)

// Names of RootlessKit's port drivers, as Properties.PortDrivers lists them
// (package portdriver has the drivers and exports these names).
const (
	portBuiltin        = "builtin"
	portSlirp4netns    = "slirp4netns"
	portImplicit       = "implicit"
	portPesto          = "pesto"
	portGVisorTapVsock = "gvisor-tap-vsock"
	portNone           = "none"
)

// Names returns the names of the network drivers of this package.
func Names() []string {
	return []string{NameSlirp4netns, NamePasta, NameVPNKit, NameLXCUserNIC, NameGVisorTapVsock, NameNone, NameHost}
}

// Named returns the zero value (all defaults) of the driver called name,
// e.g. the value of DOCKERD_ROOTLESS_ROOTLESSKIT_NET. "host" gives
// [HostNetwork], whose Check explains why Docker rejects it. An unknown
// name is an error that lists the valid names.
func Named(name string) (Driver, error) {
	switch name {
	case NameSlirp4netns:
		return Slirp4netns{}, nil
	case NamePasta:
		return Pasta{}, nil
	case NameVPNKit:
		return VPNKit{}, nil
	case NameLXCUserNIC:
		return LXCUserNIC{}, nil
	case NameGVisorTapVsock:
		return GVisorTapVsock{}, nil
	case NameNone:
		return None{}, nil
	case NameHost:
		return HostNetwork{}, nil
	}
	return nil, Problem(IDInvalidConfig, "", fmt.Sprintf("unknown network driver %q", clip(name)), "use one of "+strings.Join(Names(), ", "))
}

// portName resolves "" to the default and checks that the network accepts it.
func portName(driver string, p Properties, port string) (string, error) {
	if port == "" {
		return p.DefaultPortDriver, nil
	}
	if slices.Contains(p.PortDrivers, port) {
		return port, nil
	}
	return "", Problem(IDIncompatible, driver, fmt.Sprintf("network %q does not work with port driver %q", driver, clip(port)), fmt.Sprintf("use port driver %s with network %q", orList(p.PortDrivers), driver))
}

// orList formats names as "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return "(none)"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// checkCtx returns ctx.Err() wrapped with the driver name, or nil.
func checkCtx(ctx context.Context, driver string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: check: %w", driver, err)
	}
	return nil
}

// isNil reports whether d is nil or a nil pointer.
func isNil(d Driver) bool {
	if d == nil {
		return true
	}
	v := reflect.ValueOf(d)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// begin is the common start of Check: a done ctx or a nil Host stops it.
func begin(ctx context.Context, h *Host, driver string) error {
	if err := checkCtx(ctx, driver); err != nil {
		return err
	}
	if h == nil {
		return Problem(IDHostUnavailable, driver, "nil Host", "pass netdriver.LocalHost() or a Host built from fixtures")
	}
	return nil
}
