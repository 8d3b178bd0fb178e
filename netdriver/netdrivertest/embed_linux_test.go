//go:build linux

package netdrivertest_test

import (
	"github.com/rootless-containers/rootlesskit/v3/pkg/network"

	"github.com/rootlessd/rootlessd/netdriver"
)

type nilParent struct{ base }

func (nilParent) Parent(netdriver.ParentSetup) (network.ParentDriver, error) { return nil, nil }

func init() {
	broken["nil-parent"] = struct {
		d    netdriver.Driver
		want string
	}{nilParent{}, "Parent = nil, nil; want a driver or an error"}
}
