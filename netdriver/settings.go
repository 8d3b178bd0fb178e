package netdriver

import (
	"context"
	"fmt"
	"net/netip"
)

// Settings are what a caller wants of whichever network driver is chosen:
// dockerd-rootless.sh's DOCKERD_ROOTLESS_ROOTLESSKIT_MTU, --cidr, --ifname
// and the slirp4netns sandbox switches, and the IPv6 and host-loopback
// switches. [Apply] sets them on a driver value in one pass. A zero field
// means "leave the driver's own value".
type Settings struct {
	MTU    int          // 0: keep the driver's MTU
	CIDR   netip.Prefix // zero: keep
	IfName string       // "": keep
	// Sandbox and Seccomp apply to slirp4netns only; other drivers ignore
	// them, as RootlessKit does ("": keep).
	Sandbox, Seccomp Tristate
	// HostLoopback and IPv6, when true, turn the feature on; false keeps the
	// driver's own value.
	HostLoopback, IPv6 bool
}

// IsZero reports whether s changes nothing.
func (s Settings) IsZero() bool { return s == Settings{} }

// Apply returns d with the settings s applied, checked as the driver's own
// fields are. A setting the driver has no place for (a CIDR for vpnkit, IPv6
// for gvisor-tap-vsock, host loopback for lxc-user-nic) is an error matching
// [IDUnsupported] that names the drivers that have it. Drivers of other
// packages are returned unchanged if s is zero, and refused otherwise.
func Apply(d Driver, s Settings) (Driver, error) {
	if isNil(d) {
		return nil, invalid("", "nil network driver", "pass a network driver value")
	}
	if s.IsZero() {
		return d, nil
	}
	var errs []error
	no := func(what, why string) { errs = append(errs, unsupported(d.Name(), what, why)) }
	out := d
	switch v := d.(type) {
	case Slirp4netns:
		setMTU(&v.MTU, s.MTU)
		setCIDR(&v.CIDR, s.CIDR)
		setStr(&v.IfName, s.IfName)
		setTri(&v.Sandbox, s.Sandbox)
		setTri(&v.Seccomp, s.Seccomp)
		v.HostLoopback = v.HostLoopback || s.HostLoopback
		v.IPv6 = v.IPv6 || s.IPv6
		errs = append(errs, v.validate())
		out = v
	case Pasta:
		setMTU(&v.MTU, s.MTU)
		setCIDR(&v.CIDR, s.CIDR)
		setStr(&v.IfName, s.IfName)
		v.HostLoopback = v.HostLoopback || s.HostLoopback
		v.IPv6 = v.IPv6 || s.IPv6
		errs = append(errs, v.validate())
		out = v
	case GVisorTapVsock:
		setMTU(&v.MTU, s.MTU)
		setCIDR(&v.CIDR, s.CIDR)
		setStr(&v.IfName, s.IfName)
		v.HostLoopback = v.HostLoopback || s.HostLoopback
		if s.IPv6 {
			no("IPv6", "gvisor-tap-vsock's virtual network has no IPv6")
		}
		errs = append(errs, v.validate())
		out = v
	case VPNKit:
		setMTU(&v.MTU, s.MTU)
		setStr(&v.IfName, s.IfName)
		v.HostLoopback = v.HostLoopback || s.HostLoopback
		if s.CIDR.IsValid() {
			no("a custom CIDR", "RootlessKit's vpnkit driver has a fixed network")
		}
		if s.IPv6 {
			no("IPv6", "vpnkit has no IPv6 support in RootlessKit")
		}
		errs = append(errs, v.validate())
		out = v
	case LXCUserNIC:
		setMTU(&v.MTU, s.MTU)
		setStr(&v.IfName, s.IfName)
		if s.CIDR.IsValid() {
			no("a custom CIDR", "the bridge's DHCP server assigns the address")
		}
		if s.HostLoopback {
			no("host loopback", "RootlessKit always blocks it for lxc-user-nic")
		}
		if s.IPv6 {
			no("IPv6", "lxc-user-nic has no IPv6 support in RootlessKit")
		}
		errs = append(errs, v.validate())
		out = v
	case None:
		// RootlessKit ignores MTU, sandbox and seccomp for --net=none.
		if s.CIDR.IsValid() || s.IfName != "" {
			no("a CIDR or interface name", "the none network has only loopback")
		}
		if s.HostLoopback {
			no("host loopback", "the none network has no route out")
		}
		if s.IPv6 {
			no("IPv6", "the none network has no route out")
		}
	case HostNetwork:
		no("network settings", "it is the host's network namespace")
	default:
		return nil, Problem(IDUnsupported, d.Name(), fmt.Sprintf("network settings %+v cannot be applied to %T, a driver of another package", s, d),
			"set them in the driver value itself")
	}
	if err := join(errs); err != nil {
		return nil, err
	}
	return out, nil
}

func setMTU(dst *int, v int) {
	if v != 0 {
		*dst = v
	}
}

func setCIDR(dst *netip.Prefix, v netip.Prefix) {
	if v.IsValid() {
		*dst = v
	}
}

func setStr(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func setTri(dst *Tristate, v Tristate) {
	if v != "" {
		*dst = v
	}
}

func unsupported(driver, what, why string) error {
	fix := "choose another network driver"
	switch what {
	case "IPv6":
		fix = "use slirp4netns or pasta for IPv6"
	case "host loopback":
		fix = "use slirp4netns, pasta, vpnkit or gvisor-tap-vsock for host loopback"
	case "a custom CIDR":
		fix = "use slirp4netns, pasta or gvisor-tap-vsock for a custom CIDR, or leave it unset"
	}
	return Problem(IDUnsupported, driver, fmt.Sprintf("%s cannot provide %s: %s", driver, what, why), fix)
}

// Describe says in a few words what d found on h, e.g. "slirp4netns 1.2.0
// supports --netns-type" or "pasta 2026_10_02 (from "/usr/bin/pasta
// --version")", for the reasons of a driver choice. It runs only the probes
// Check runs, so a Host that caches its Run answers runs nothing twice.
func Describe(ctx context.Context, h *Host, d Driver) string {
	if ds, ok := d.(interface {
		describe(ctx context.Context, h *Host) string
	}); ok {
		return ds.describe(ctx, h)
	}
	return d.Name()
}

// DetachNetNSFlags returns ["--detach-netns"] for an external RootlessKit
// of version v, or an error if v lacks it (it appeared in 2.0), if d has no
// network namespace to detach, or if d is slirp4netns with Sandbox true
// (slirp4netns#317). dockerd-rootless.sh passes it by default since Docker
// 29.5; it speeds up pulls and builds and enables "docker run --net=host".
func DetachNetNSFlags(v Version, d Driver) ([]string, error) {
	if err := CheckDetachNetNS(d); err != nil {
		return nil, err
	}
	if err := RequireVersion(d.Name(), "--detach-netns", v, v2_0); err != nil {
		return nil, err
	}
	return []string{"--detach-netns"}, nil
}

// CheckDetachNetNS reports whether the network namespace of d can be
// detached: d must have one, and slirp4netns must not run sandboxed
// (Sandbox true; "auto" turns the sandbox off when detached).
func CheckDetachNetNS(d Driver) error {
	if isNil(d) {
		return invalid("", "nil network driver", "pass the network driver in use")
	}
	if !d.Properties().Namespace {
		return invalid(d.Name(), "--detach-netns needs a network namespace", "use a namespaced network driver, or do not detach")
	}
	if s, ok := d.(Slirp4netns); ok && s.Sandbox == True {
		return invalid(NameSlirp4netns, "Sandbox true conflicts with a detached network namespace (slirp4netns#317)",
			"set Sandbox to auto or false, or do not detach the network namespace (WithDetachNetNS(false))")
	}
	return nil
}

// Resolve returns d with what it leaves to RootlessKit decided for host h,
// so that a launch plan says exactly what will run: the program becomes its
// absolute path, and slirp4netns's Sandbox and Seccomp "auto" become true
// or false as RootlessKit would decide them (sandbox when slirp4netns has
// --enable-sandbox and the network namespace is not detached; seccomp when
// it has --enable-seccomp and the kernel accepts filters). It runs only the
// probes Check runs. Call it after a Check without blocking problems;
// drivers of other packages are returned as they are.
func Resolve(ctx context.Context, h *Host, d Driver, detached bool) (Driver, error) {
	abs := func(driver, program, fix string) (string, error) {
		return lookProgram(h, driver, program, fix)
	}
	switch v := d.(type) {
	case Slirp4netns:
		p, f, err := v.probe(ctx, h)
		if err != nil {
			return nil, err
		}
		v.Binary = p
		if v.Sandbox.orAuto() == Auto {
			v.Sandbox = boolTri(f.EnableSandbox && !detached)
		}
		if v.Seccomp.orAuto() == Auto {
			v.Seccomp = boolTri(f.EnableSeccomp && h.kernelSeccomp())
		}
		return v, nil
	case Pasta:
		p, err := abs(NamePasta, v.program(), fixPasta)
		if err != nil {
			return nil, err
		}
		v.Binary = p
		return v, nil
	case VPNKit:
		p, err := abs(NameVPNKit, v.program(), fixVPNKit)
		if err != nil {
			return nil, err
		}
		v.Binary = p
		return v, nil
	case LXCUserNIC:
		p, err := v.find(h)
		if err != nil {
			return nil, err
		}
		v.Binary = p
		return v, nil
	}
	return d, nil
}

func boolTri(b bool) Tristate {
	if b {
		return True
	}
	return False
}
