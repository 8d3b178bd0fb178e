//go:build linux

package portdriver

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin"
	gvtapport "github.com/rootless-containers/rootlesskit/v3/pkg/port/gvisortapvsock"
	pestoport "github.com/rootless-containers/rootlesskit/v3/pkg/port/pasta"
	slirpport "github.com/rootless-containers/rootlesskit/v3/pkg/port/slirp4netns"

	"github.com/rootlessd/rootlessd/netdriver"
)

// The embedded engine's side of the drivers: RootlessKit's parent- and
// child-side port drivers for each value. Linux only, like RootlessKit.

// ParentSetup is what a port driver needs to build RootlessKit's parent-side
// driver in the embedded engine (parent.Opt.PortDriver).
type ParentSetup struct {
	// Log receives diagnostics. Nil discards them.
	Log io.Writer
	// StateDir is RootlessKit's state directory; it MUST be absolute and
	// exist (the builtin driver creates a FIFO in it).
	StateDir string
	// Network is the network driver in use. It MUST NOT be nil.
	Network netdriver.Driver
}

func (e ParentSetup) log() io.Writer { return orDiscard(e.Log) }

// checkEmbedding validates what every Parent needs.
func checkEmbedding(driver string, e ParentSetup, p Driver) error {
	if isNil(e.Network) {
		return netdriver.Problem(netdriver.IDInvalidConfig, driver, "ParentSetup.Network is nil", "pass the network driver in use")
	}
	if !strings.HasPrefix(e.StateDir, "/") {
		return netdriver.Problem(netdriver.IDInvalidConfig, driver, fmt.Sprintf("ParentSetup.StateDir %q is not absolute", clip(e.StateDir)), "pass the absolute, pre-created RootlessKit state directory")
	}
	return Validate(e.Network, p)
}

// Parent builds the builtin parent driver; it creates a FIFO in StateDir.
func (b Builtin) Parent(e ParentSetup) (port.ParentDriver, error) {
	if err := checkEmbedding(NameBuiltin, e, b); err != nil {
		return nil, err
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	d, err := builtin.NewParentDriver(e.log(), e.StateDir, !b.DisableSourceIPTransparent, b.backend())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NameBuiltin, err)
	}
	return d, nil
}

// Child returns the builtin child driver.
func (Builtin) Child(log io.Writer) port.ChildDriver { return builtin.NewChildDriver(orDiscard(log)) }

// Parent talks to slirp4netns at [netdriver.Slirp4netnsAPISocket], which the
// slirp4netns network opens when its ParentSetup.PortDriver is "slirp4netns".
func (s Slirp4netns) Parent(e ParentSetup) (port.ParentDriver, error) {
	if err := checkEmbedding(NameSlirp4netns, e, s); err != nil {
		return nil, err
	}
	d, err := slirpport.NewParentDriver(e.log(), filepath.Join(e.StateDir, netdriver.Slirp4netnsAPISocket))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NameSlirp4netns, err)
	}
	return d, nil
}

// Child returns the slirp4netns child driver (it does nothing).
func (Slirp4netns) Child(io.Writer) port.ChildDriver { return slirpport.NewChildDriver() }

// Parent returns (nil, nil): pasta forwards by itself (the pasta
// network's Parent is told through ParentSetup.PortDriver).
func (d Implicit) Parent(e ParentSetup) (port.ParentDriver, error) {
	if err := checkEmbedding(NameImplicit, e, d); err != nil {
		return nil, err
	}
	return nil, nil
}

// Child returns nil.
func (Implicit) Child(io.Writer) port.ChildDriver { return nil }

// Parent builds the pesto driver (it runs "pesto --version"); pasta
// listens on [netdriver.PestoSocket].
func (d Pesto) Parent(e ParentSetup) (port.ParentDriver, error) {
	if err := checkEmbedding(NamePesto, e, d); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	pd, err := pestoport.NewParentDriver(e.log(), d.program(), filepath.Join(e.StateDir, netdriver.PestoSocket), e.Network.Properties().IPv6)
	if err != nil {
		return nil, withErr(netdriver.Problem(netdriver.IDBinaryFailed, NamePesto, "starting the pesto driver", fixPesto), err)
	}
	return pd, nil
}

// Child returns the pesto child driver (it does nothing).
func (Pesto) Child(io.Writer) port.ChildDriver { return pestoport.NewChildDriver() }

// Parent builds the gvisor-tap-vsock port driver; it uses the network's
// in-process stack, which RootlessKit passes to it.
func (d GVisorTapVsock) Parent(e ParentSetup) (port.ParentDriver, error) {
	if err := checkEmbedding(NameGVisorTapVsock, e, d); err != nil {
		return nil, err
	}
	pd, err := gvtapport.NewParentDriver(e.log(), e.StateDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NameGVisorTapVsock, err)
	}
	return pd, nil
}

// Child returns the gvisor-tap-vsock child driver (it does nothing).
func (GVisorTapVsock) Child(io.Writer) port.ChildDriver { return gvtapport.NewChildDriver() }

// Parent returns (nil, nil).
func (d None) Parent(e ParentSetup) (port.ParentDriver, error) {
	if err := checkEmbedding(NameNone, e, d); err != nil {
		return nil, err
	}
	return nil, nil
}

// Child returns nil.
func (None) Child(io.Writer) port.ChildDriver { return nil }
