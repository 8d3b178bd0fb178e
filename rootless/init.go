package rootless

import (
	"fmt"
	"io"

	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port"

	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// Init must be the first statement of main in every program that launches a daemon with the
// embedded engine (and of TestMain in its tests):
//
//	func main() {
//		rootless.Init()
//		// flag parsing and everything else comes after
//	}
//
// The embedded engine re-runs the program's own executable as RootlessKit's parent, as its
// child, and as the step that prepares the namespace and execs dockerd. In those processes Init
// does that work and never returns; in the program itself it returns at once. It must run
// before any flag parsing or CLI framework sees the arguments, and before the program starts
// goroutines or servers of its own. Launch returns ErrNoInit if Init was not called.
func Init() {
	engine.Init(driverSet{})
}

// driverSet builds RootlessKit's drivers from the encoded driver values of an engine Config, in
// the helper (Parent) and in RootlessKit's child (Child).
type driverSet struct{}

func decodeDrivers(c *engine.Config) (netdriver.Driver, portdriver.Driver, error) {
	if len(c.Net) == 0 {
		return nil, nil, nil // host network: RootlessKit makes no network namespace
	}
	n, err := netdriver.Decode(c.Net)
	if err != nil {
		return nil, nil, fmt.Errorf("decode network driver: %w", err)
	}
	p, err := portdriver.Decode(c.Port)
	if err != nil {
		return nil, nil, fmt.Errorf("decode port driver: %w", err)
	}
	return n, p, nil
}

func (driverSet) Parent(c *engine.Config, log io.Writer) (network.ParentDriver, port.ParentDriver, error) {
	n, p, err := decodeDrivers(c)
	if err != nil || n == nil {
		return nil, nil, err
	}
	nd, err := n.Parent(netdriver.Embedding{Log: log, StateDir: c.StateDir, DetachNetNS: c.DetachNetNS, PortDriver: p.Name()})
	if err != nil {
		return nil, nil, err
	}
	pd, err := p.Parent(portdriver.Embedding{Log: log, StateDir: c.StateDir, Network: n})
	if err != nil {
		return nil, nil, err
	}
	return nd, pd, nil
}

func (driverSet) Child(c *engine.Config, log io.Writer) (network.ChildDriver, port.ChildDriver, error) {
	n, p, err := decodeDrivers(c)
	if err != nil || n == nil {
		return nil, nil, err
	}
	return n.Child(), p.Child(log), nil
}
