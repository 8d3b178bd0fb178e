//go:build linux

package portdrivertest

import (
	"context"
	"io"
	"testing"

	"github.com/rootless-containers/rootlesskit/v3/pkg/port"

	"github.com/rootlessd/rootlessd/portdriver"
)

// embedder is the embedded engine's side of a driver: this package's drivers have it on Linux.
type embedder interface {
	Parent(portdriver.ParentSetup) (port.ParentDriver, error)
	Child(log io.Writer) port.ChildDriver
}

// checkEmbedded checks what the embedded engine's Parent and Child return, for drivers that
// have them.
func checkEmbedded(t *testing.T, newDriver func() portdriver.Driver) {
	d, ok := newDriver().(embedder)
	if !ok {
		t.Skip("no Parent and Child: the driver runs with an installed rootlesskit only")
	}
	drv := newDriver()
	p := drv.Properties()
	for _, n := range networks() {
		if _, err := d.Parent(portdriver.ParentSetup{StateDir: t.TempDir(), Network: n}); portdriver.Validate(n, drv) != nil && err == nil {
			t.Errorf("Parent with incompatible network %s succeeded", n.Name())
		}
	}
	if _, err := d.Parent(portdriver.ParentSetup{StateDir: t.TempDir()}); err == nil {
		t.Errorf("Parent with nil Network succeeded")
	}
	for _, n := range networks() {
		if portdriver.Validate(n, drv) != nil {
			continue
		}
		if _, err := d.Parent(portdriver.ParentSetup{StateDir: "relative", Network: n}); err == nil {
			t.Errorf("Parent(relative StateDir) succeeded")
		}
		pd, err := d.Parent(portdriver.ParentSetup{StateDir: t.TempDir(), Network: n})
		switch {
		case !p.API && (pd != nil || err != nil):
			t.Errorf("no API: Parent = %v, %v; want nil, nil", pd, err)
		case p.API && err == nil && pd == nil:
			t.Errorf("Parent = nil, nil; want a driver or an error")
		case p.API && err != nil:
			t.Logf("Parent with %s: %v", n.Name(), err) // a program may be missing here
		case p.API:
			info, ierr := pd.Info(context.Background())
			if ierr != nil || info.Driver != drv.Name() {
				t.Errorf("Parent().Info() = %+v, %v; want driver %q", info, ierr, drv.Name())
			}
		}
		break
	}
	if c := d.Child(nil); !p.API && c != nil {
		t.Errorf("no API: Child = %v; want nil", c)
	}
}
