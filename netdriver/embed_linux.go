//go:build linux

package netdriver

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/gvisortapvsock"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/lxcusernic"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/none"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/pasta"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/slirp4netns"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/vpnkit"
)

// The embedded engine's side of the drivers: RootlessKit's parent- and
// child-side drivers for each value. Linux only, like RootlessKit.

// ParentSetup is what a network driver needs to build RootlessKit's
// parent-side driver in the embedded engine (parent.Opt.NetworkDriver).
type ParentSetup struct {
	// Log receives the output of helper programs (slirp4netns, pasta).
	// Nil discards it.
	Log io.Writer
	// StateDir is RootlessKit's state directory (parent.Opt.StateDir). It
	// MUST be absolute. Drivers put sockets in it: [Slirp4netnsAPISocket]
	// and [PestoSocket].
	StateDir string
	// DetachNetNS is parent.Opt.DetachNetNS (--detach-netns). The
	// slirp4netns sandbox is turned off by "auto" when it is set.
	DetachNetNS bool
	// PortDriver is the name of the port driver used with this network
	// ("" for the default): pasta needs to know implicit or pesto, and
	// slirp4netns opens its API socket for the slirp4netns port driver.
	PortDriver string
}

func (e ParentSetup) log() io.Writer {
	if e.Log == nil {
		return io.Discard
	}
	return e.Log
}

// Parent builds the in-process network. The CIDR is always passed
// explicitly: RootlessKit's constructor has no default for it.
func (d GVisorTapVsock) Parent(e ParentSetup) (network.ParentDriver, error) {
	if err := checkEmbedding(NameGVisorTapVsock, e); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if _, err := portName(NameGVisorTapVsock, d.Properties(), e.PortDriver); err != nil {
		return nil, err
	}
	pd, err := gvisortapvsock.NewParentDriver(e.log(), mtuOr(d.MTU, mtuUserMode), toIPNet(d.cidr()), d.IfName, !d.HostLoopback, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NameGVisorTapVsock, err)
	}
	return pd, nil
}

// Child returns gvisor-tap-vsock's child-side driver (it copies frames
// between the tap device and the parent).
func (GVisorTapVsock) Child() network.ChildDriver { return gvisortapvsock.NewChildDriver() }

// Parent builds lxc-user-nic's parent driver; with Binary empty it looks
// for lxc-user-nic on this machine.
func (d LXCUserNIC) Parent(e ParentSetup) (network.ParentDriver, error) {
	if err := checkEmbedding(NameLXCUserNIC, e); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if _, err := portName(NameLXCUserNIC, d.Properties(), e.PortDriver); err != nil {
		return nil, err
	}
	bin, err := d.find(LocalHost())
	if err != nil {
		return nil, err
	}
	if bin == "" {
		return nil, errors.New("lxc-user-nic: empty binary")
	}
	pd, err := lxcusernic.NewParentDriver(bin, mtuOr(d.MTU, mtuEthernet), d.bridge(), d.IfName)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NameLXCUserNIC, err)
	}
	return pd, nil
}

// Child returns lxc-user-nic's child-side driver (it runs DHCP).
func (LXCUserNIC) Child() network.ChildDriver { return lxcusernic.NewChildDriver() }

// Parent returns RootlessKit's none driver.
func (d None) Parent(e ParentSetup) (network.ParentDriver, error) {
	if err := checkEmbedding(NameNone, e); err != nil {
		return nil, err
	}
	if _, err := portName(NameNone, d.Properties(), e.PortDriver); err != nil {
		return nil, err
	}
	return none.NewParentDriver()
}

// Child returns nil: the none network needs no child-side setup.
func (None) Child() network.ChildDriver { return nil }

// Parent returns (nil, nil): RootlessKit's host network has no driver.
func (d HostNetwork) Parent(e ParentSetup) (network.ParentDriver, error) {
	if _, err := portName(NameHost, d.Properties(), e.PortDriver); err != nil {
		return nil, err
	}
	return nil, nil
}

// Child returns nil.
func (HostNetwork) Child() network.ChildDriver { return nil }

// Parent builds pasta's parent driver (it runs "pasta --version" and
// feature probes). With the pesto port driver pasta listens on
// [PestoSocket]; with implicit it forwards all ports (--tcp-ports=auto).
func (p Pasta) Parent(e ParentSetup) (network.ParentDriver, error) {
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
	if port == portPesto {
		pesto = filepath.Join(e.StateDir, PestoSocket)
	}
	d, err := pasta.NewParentDriver(e.log(), p.program(), mtuOr(p.MTU, mtuUserMode), toIPNet(p.CIDR), p.IfName, pesto,
		!p.HostLoopback, p.IPv6, port == portImplicit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NamePasta, err)
	}
	return d, nil
}

// Child returns pasta's child-side driver (pasta configures the interface).
func (Pasta) Child() network.ChildDriver { return pasta.NewChildDriver() }

// checkEmbedding validates the fields every Parent needs.
func checkEmbedding(driver string, e ParentSetup) error {
	if !filepath.IsAbs(e.StateDir) {
		return invalid(driver, fmt.Sprintf("ParentSetup.StateDir %q is not absolute", clip(e.StateDir)), "pass the absolute, pre-created RootlessKit state directory")
	}
	return nil
}

// Parent detects slirp4netns's features (it runs "slirp4netns --help"),
// resolves Sandbox and Seccomp "auto" as RootlessKit does, and opens the
// API socket [Slirp4netnsAPISocket] for the slirp4netns port driver.
func (s Slirp4netns) Parent(e ParentSetup) (network.ParentDriver, error) {
	if err := checkEmbedding(NameSlirp4netns, e); err != nil {
		return nil, err
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	port, err := portName(NameSlirp4netns, s.Properties(), e.PortDriver)
	if err != nil {
		return nil, err
	}
	sandbox, seccomp := s.Sandbox == True, s.Seccomp == True
	if s.Sandbox.orAuto() == Auto || s.Seccomp.orAuto() == Auto {
		// Not decided by Resolve beforehand: ask slirp4netns, as RootlessKit does.
		feat, err := slirp4netns.DetectFeatures(s.program())
		if err != nil {
			id := IDBinaryFailed
			switch msg := err.Error(); {
			case strings.Contains(msg, "not installed"):
				id = IDBinaryMissing
			case strings.Contains(msg, "older than"):
				id = IDSlirp4netnsTooOld
			}
			return nil, withErr(Problem(id, NameSlirp4netns, "detecting features", fixSlirp4netns), err, "")
		}
		if s.Sandbox.orAuto() == Auto {
			sandbox = feat.SupportsEnableSandbox && !e.DetachNetNS
		}
		if s.Seccomp.orAuto() == Auto {
			seccomp = feat.SupportsEnableSeccomp && feat.KernelSupportsEnableSeccomp
		}
	}
	if sandbox && e.DetachNetNS {
		return nil, invalid(NameSlirp4netns, "Sandbox true conflicts with DetachNetNS (slirp4netns#317)", "set Sandbox to auto or false, or do not detach the network namespace")
	}
	apiSocket := ""
	if port == portSlirp4netns {
		apiSocket = filepath.Join(e.StateDir, Slirp4netnsAPISocket)
	}
	d, err := slirp4netns.NewParentDriver(e.log(), s.program(), mtuOr(s.MTU, mtuUserMode), toIPNet(s.CIDR), s.IfName,
		!s.HostLoopback, apiSocket, sandbox, seccomp, s.IPv6)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NameSlirp4netns, err)
	}
	return d, nil
}

// Child returns slirp4netns's child-side driver.
func (Slirp4netns) Child() network.ChildDriver { return slirp4netns.NewChildDriver() }

// Parent validates the value first: RootlessKit's vpnkit.NewParentDriver
// panics on an empty binary or a negative MTU.
func (d VPNKit) Parent(e ParentSetup) (network.ParentDriver, error) {
	if err := checkEmbedding(NameVPNKit, e); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if _, err := portName(NameVPNKit, d.Properties(), e.PortDriver); err != nil {
		return nil, err
	}
	bin, mtu := d.program(), mtuOr(d.MTU, mtuEthernet)
	if bin == "" || mtu < 0 { // unreachable after validate; vpnkit panics on these
		return nil, fmt.Errorf("%s: invalid binary or MTU", NameVPNKit)
	}
	return vpnkit.NewParentDriver(bin, mtu, d.IfName, !d.HostLoopback), nil
}

// Child returns vpnkit's child-side driver.
func (VPNKit) Child() network.ChildDriver { return vpnkit.NewChildDriver() }
