//go:build linux

package portdrivertest_test

import (
	"github.com/rootless-containers/rootlesskit/v3/pkg/port"

	"github.com/rootlessd/rootlessd/portdriver"
)

type nilParent struct{ base }

func (nilParent) Parent(portdriver.ParentSetup) (port.ParentDriver, error) { return nil, nil }

func init() {
	broken["nil-parent"] = struct {
		d    portdriver.Driver
		want string
	}{nilParent{}, "Parent = nil, nil; want a driver or an error"}
}
