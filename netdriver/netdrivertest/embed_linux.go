//go:build linux

package netdrivertest

import (
	"testing"

	"github.com/rootless-containers/rootlesskit/v3/pkg/network"

	"github.com/rootlessd/rootlessd/netdriver"
)

// embedder is the embedded engine's side of a driver: this package's drivers have it on Linux.
type embedder interface {
	Parent(netdriver.ParentSetup) (network.ParentDriver, error)
	Child() network.ChildDriver
}

// checkEmbedded checks what the embedded engine's Parent and Child return, for drivers that
// have them.
func checkEmbedded(t *testing.T, newDriver func() netdriver.Driver) {
	d, ok := newDriver().(embedder)
	if !ok {
		t.Skip("no Parent and Child: the driver runs with an installed rootlesskit only")
	}
	p := newDriver().Properties()
	if _, err := d.Parent(netdriver.ParentSetup{StateDir: "relative/dir"}); p.Namespace && err == nil {
		t.Errorf("Parent(relative StateDir) succeeded; want an error")
	}
	if pd, err := d.Parent(netdriver.ParentSetup{StateDir: t.TempDir(), PortDriver: "no-such-port-driver"}); err == nil {
		t.Errorf("Parent(unknown port driver) = %v, nil; want an error", pd)
	}
	pd, err := d.Parent(netdriver.ParentSetup{StateDir: t.TempDir()})
	switch {
	case !p.Namespace && (pd != nil || err != nil):
		t.Errorf("no namespace: Parent = %v, %v; want nil, nil", pd, err)
	case p.Namespace && err == nil && pd == nil:
		t.Errorf("Parent = nil, nil; want a driver or an error")
	case p.Namespace && err != nil:
		// Allowed: the program the driver needs may be missing here.
		t.Logf("Parent: %v", err)
	case p.Namespace && pd != nil:
		if pd.MTU() != p.MTU {
			t.Errorf("Parent().MTU() = %d; Properties().MTU = %d", pd.MTU(), p.MTU)
		}
	}
	if c := d.Child(); !p.Namespace && c != nil {
		t.Errorf("no namespace: Child() = %v; want nil", c)
	}
}
