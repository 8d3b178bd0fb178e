//go:build linux

package portdriver_test

import (
	"io"
	"testing"

	"github.com/rootless-containers/rootlesskit/v3/pkg/child"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// The embedded engine's side of the drivers, as internal/engine uses it.
type (
	netEmbedder interface {
		Parent(netdriver.ParentSetup) (network.ParentDriver, error)
		Child() network.ChildDriver
	}
	portEmbedder interface {
		Parent(portdriver.ParentSetup) (port.ParentDriver, error)
		Child(log io.Writer) port.ChildDriver
	}
)

// TestEmbeddingWiring builds RootlessKit's parent.Opt and child.Opt the way
// the embedded engine does, from encoded drivers, without starting
// anything: a network driver, a port driver and an Embedding are all an
// integration test needs.
func TestEmbeddingWiring(t *testing.T) {
	netJSON, err := netdriver.Encode(netdriver.GVisorTapVsock{HostLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	portJSON, err := portdriver.Encode(portdriver.Builtin{})
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := portdriver.ParseSpec("127.0.0.1:8080:80/tcp")
	stateDir := t.TempDir()

	// Helper process: RootlessKit's parent.
	nd, err := netdriver.Decode(netJSON)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := portdriver.Decode(portJSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := portdriver.Validate(nd, pd); err != nil {
		t.Fatal(err)
	}
	np, err := nd.(netEmbedder).Parent(netdriver.ParentSetup{StateDir: stateDir, PortDriver: pd.Name()})
	if err != nil {
		t.Fatal(err)
	}
	pp, err := pd.(portEmbedder).Parent(portdriver.ParentSetup{StateDir: stateDir, Network: nd})
	if err != nil {
		t.Fatal(err)
	}
	popt := parent.Opt{
		StateDir:      stateDir,
		NetworkDriver: np,
		PortDriver:    pp,
		PublishPorts:  []port.Spec{spec.RootlessKit()},
	}
	if popt.NetworkDriver.MTU() != 65520 {
		t.Errorf("MTU %d", popt.NetworkDriver.MTU())
	}
	info, err := popt.PortDriver.Info(t.Context())
	if err != nil || info.Driver != "builtin" {
		t.Errorf("port driver info %+v, %v", info, err)
	}

	// Child process.
	copt := child.Opt{NetworkDriver: nd.(netEmbedder).Child(), PortDriver: pd.(portEmbedder).Child(nil)}
	if copt.NetworkDriver == nil || copt.PortDriver == nil {
		t.Errorf("child drivers missing: %+v", copt)
	}

	// implicit and none have no drivers on either side.
	for _, p := range []portdriver.Driver{portdriver.Implicit{}, portdriver.None{}} {
		n := netdriver.Driver(netdriver.Pasta{})
		e := p.(portEmbedder)
		pp, err := e.Parent(portdriver.ParentSetup{StateDir: stateDir, Network: n})
		if err != nil || pp != nil || e.Child(nil) != nil {
			t.Errorf("%s: Parent = %v, %v; Child = %v", p.Name(), pp, err, e.Child(nil))
		}
	}
}

func TestNilPointers(t *testing.T) {
	var n *netdriver.Slirp4netns
	var p *portdriver.Builtin
	if err := portdriver.Validate(n, portdriver.None{}); err == nil {
		t.Errorf("Validate(nil pointer network): no error")
	}
	if err := portdriver.Validate(netdriver.Slirp4netns{}, p); err == nil {
		t.Errorf("Validate(nil pointer port): no error")
	}
	if _, err := (portdriver.Builtin{}).Parent(portdriver.ParentSetup{StateDir: t.TempDir(), Network: n}); err == nil {
		t.Errorf("Parent(nil pointer network): no error")
	}
	if _, err := netdriver.Apply(n, netdriver.Settings{MTU: 1500}); err == nil {
		t.Errorf("Apply(nil pointer network): no error")
	}
	if _, err := netdriver.DetachNetNSFlags(netdriver.LinkedRootlessKit, nil); err == nil {
		t.Errorf("DetachNetNSFlags(nil): no error")
	}
}

// TestBuiltinParentWithPasta: the library runs the pair the rootlesskit command refuses.
func TestBuiltinParentWithPasta(t *testing.T) {
	d, err := portdriver.Builtin{}.Parent(portdriver.ParentSetup{StateDir: t.TempDir(), Network: netdriver.Pasta{}})
	if err != nil || d == nil {
		t.Errorf("Parent with pasta: %v, %v", d, err)
	}
}
