package portdriver

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
)

// Driver publishes ports of the rootless daemon's network namespace on the
// host. Like [netdriver.Driver] it is a value: the same value gives flags
// for an external rootlesskit binary and, on Linux, RootlessKit's drivers
// for the embedded engine (each driver of this package has Parent and
// Child methods for that).
//
// Contract, checked by portdriver/portdrivertest.Run:
//   - All methods MUST be safe for concurrent use and MUST NOT modify the
//     value. The values in this package are plain structs whose zero value
//     means RootlessKit's defaults.
//   - Name MUST return the same non-empty RootlessKit --port-driver name
//     on every call.
//   - Check MUST NOT change the host, MUST return an error matching
//     ctx.Err() when ctx is done, and MUST reject a network it does not
//     work with (an error matching [netdriver.IDIncompatible]). Every
//     problem MUST be a [*diag.Finding] with a non-empty Fix.
//   - Properties MUST return equal results on every call; API is true if
//     and only if Protos is non-empty.
//   - Flags MUST be deterministic, MUST reject the zero Version, versions
//     that lack the driver or a flag it needs ([netdriver.IDRootlessKitTooOld])
//     and networks it does not work with ([netdriver.IDIncompatible]).
type Driver interface {
	// Name returns the RootlessKit --port-driver value, e.g. "builtin".
	Name() string
	// Check reports what is missing on h to publish ports with this driver
	// over the network net, as [*diag.Finding] values joined with
	// errors.Join. Warnings do not stop it from working ([diag.Blocking]).
	// It includes the network's port-specific checks ([netdriver.PortChecker]).
	Check(ctx context.Context, h *netdriver.Host, net netdriver.Driver) error
	// Properties describes the driver as configured.
	Properties() Properties
	// Flags returns the flags that select and configure this driver for
	// an external rootlesskit binary of version v, used with network net.
	Flags(v netdriver.Version, net netdriver.Driver) ([]string, error)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Binder says which process binds the parent (host) side of published
// ports, and so needs CAP_NET_BIND_SERVICE for ports below
// net.ipv4.ip_unprivileged_port_start.
type Binder int

const (
	// BinderNone: the driver publishes nothing.
	BinderNone Binder = iota
	// BinderParent: the RootlessKit parent process binds. In the embedded
	// engine that is the helper executable; with the external engine the
	// rootlesskit binary.
	BinderParent
	// BinderNetworkProgram: the network driver's program binds
	// (slirp4netns, pasta).
	BinderNetworkProgram
)

// String returns "none", "rootlesskit parent" or "network program".
func (b Binder) String() string {
	switch b {
	case BinderParent:
		return "rootlesskit parent"
	case BinderNetworkProgram:
		return "network program"
	}
	return "none"
}

// Properties describes a port driver, as in Docker's table.
type Properties struct {
	// Throughput is the class of published-port throughput.
	Throughput netdriver.Throughput
	// SourceIP says whether servers see the client's address, with
	// RootlessKit SourceIPSince or later ([Properties.SourceIPWith]).
	SourceIP netdriver.SourceIP
	// SourceIPSince is the oldest RootlessKit that keeps the source IP as
	// SourceIP says; older ones lose it. Zero: every version.
	SourceIPSince netdriver.Version
	// Protos are the protocols the port API accepts; nil if there is no API.
	Protos []Proto
	// API is true if ports are added and removed through RootlessKit's
	// api.sock ([Manager], dockerd). False for implicit (pasta forwards
	// everything that listens) and none.
	API bool
	// Networks are the network drivers this port driver works with.
	Networks []string
	// Experimental is true if RootlessKit calls the driver experimental.
	Experimental bool
	// DisallowLoopbackChildIP is true if the child side cannot be a
	// loopback address: the port is forwarded to the namespace's address.
	DisallowLoopbackChildIP bool
	// Binder is the process that binds host ports.
	Binder Binder
	// MinRootlessKit is the oldest RootlessKit with this port driver.
	MinRootlessKit netdriver.Version
	// Notes is a short human remark.
	Notes string
}

// SourceIPWith is what the driver does with the client's source IP under
// RootlessKit v.
func (p Properties) SourceIPWith(v netdriver.Version) netdriver.SourceIP {
	if p.SourceIP > netdriver.SourceIPLost && !v.AtLeast(p.SourceIPSince) {
		return netdriver.SourceIPLost
	}
	return p.SourceIP
}

// Names of the port drivers (RootlessKit --port-driver values).
const (
	NameBuiltin        = "builtin"
	NameSlirp4netns    = "slirp4netns"
	NameImplicit       = "implicit"
	NamePesto          = "pesto"
	NameGVisorTapVsock = "gvisor-tap-vsock"
	NameNone           = "none"
)

// Versions of RootlessKit at which port drivers and flags appeared.
var (
	v2_0 = netdriver.Version{Major: 2}
	v3_0 = netdriver.Version{Major: 3}
	v3_1 = netdriver.Version{Major: 3, Minor: 1}
	v3_3 = netdriver.Version{Major: 3, Minor: 3}
)

// Names returns the names of this package's port drivers.
func Names() []string {
	return []string{NameBuiltin, NameSlirp4netns, NameImplicit, NamePesto, NameGVisorTapVsock, NameNone}
}

// Named returns the zero value (RootlessKit's defaults) of the port driver
// called name, e.g. the value of DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER.
// An unknown name is an error that lists the valid names ("pasta" gets
// RootlessKit's hint, "did you mean pesto?").
func Named(name string) (Driver, error) {
	switch name {
	case NameBuiltin:
		return Builtin{}, nil
	case NameSlirp4netns:
		return Slirp4netns{}, nil
	case NameImplicit:
		return Implicit{}, nil
	case NamePesto:
		return Pesto{}, nil
	case NameGVisorTapVsock:
		return GVisorTapVsock{}, nil
	case NameNone:
		return None{}, nil
	}
	detail := fmt.Sprintf("unknown port driver %q", clip(name))
	if name == "pasta" {
		detail += ` (did you mean "pesto" or "implicit"?)`
	}
	return nil, netdriver.Problem(netdriver.IDInvalidConfig, "", detail, "use one of "+strings.Join(Names(), ", "))
}

// Validate reports whether network net and port driver p can be combined,
// checking both sides' lists: the network's Properties().PortDrivers and
// the port driver's Properties().Networks. The error names the valid
// choices:
//
//	incompatible-drivers: port driver "implicit" does not work with network "slirp4netns"
//	(fix: with network "slirp4netns" use port driver builtin, slirp4netns or none;
//	port driver "implicit" needs network pasta)
func Validate(net netdriver.Driver, p Driver) error {
	if isNil(net) || isNil(p) {
		return netdriver.Problem(netdriver.IDInvalidConfig, "", "nil network or port driver", "pass both drivers")
	}
	nn, pn := net.Name(), p.Name()
	np, pp := net.Properties(), p.Properties()
	if slices.Contains(np.PortDrivers, pn) && slices.Contains(pp.Networks, nn) {
		return nil
	}
	return netdriver.Problem(netdriver.IDIncompatible, pn, fmt.Sprintf("port driver %q does not work with network %q", pn, nn), fmt.Sprintf("with network %q use port driver %s; port driver %q needs network %s",
		nn, orList(np.PortDrivers), pn, orList(pp.Networks)))
}

// isNil reports whether x is nil or a nil pointer.
func isNil(x any) bool {
	if x == nil {
		return true
	}
	v := reflect.ValueOf(x)
	return v.Kind() == reflect.Pointer && v.IsNil()
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

func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func begin(ctx context.Context, h *netdriver.Host, driver string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: check: %w", driver, err)
	}
	if h == nil {
		return netdriver.Problem(netdriver.IDHostUnavailable, driver, "nil Host", "pass netdriver.LocalHost() or a Host built from fixtures")
	}
	return nil
}

// checkFlags is the common start of Flags.
func checkFlags(driver string, v netdriver.Version, min netdriver.Version, net netdriver.Driver, p Driver) error {
	if err := netdriver.CheckTarget(driver, v); err != nil {
		return err
	}
	if err := Validate(net, p); err != nil {
		return err
	}
	return netdriver.RequireVersion(driver, "--port-driver="+driver, v, min)
}

// checkPort runs the network's PortChecker, if it has one.
func checkPort(ctx context.Context, h *netdriver.Host, net netdriver.Driver, port string) error {
	if pc, ok := net.(netdriver.PortChecker); ok {
		return pc.CheckPort(ctx, h, port)
	}
	return nil
}

// withErr sets a finding's cause.
func withErr(f *diag.Finding, err error) *diag.Finding {
	f.Err = err
	return f
}
