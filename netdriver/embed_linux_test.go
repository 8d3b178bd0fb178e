//go:build linux

package netdriver_test

import (
	"errors"
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

func TestParentNoPanic(t *testing.T) {
	dir := t.TempDir()
	// RootlessKit's vpnkit.NewParentDriver panics on a negative MTU; the
	// value is validated first.
	if _, err := (netdriver.VPNKit{MTU: -1}).Parent(netdriver.ParentSetup{StateDir: dir}); !errors.Is(err, netdriver.IDInvalidConfig) {
		t.Errorf("VPNKit{MTU: -1}.Parent = %v", err)
	}
	pd, err := netdriver.VPNKit{}.Parent(netdriver.ParentSetup{StateDir: dir})
	if err != nil || pd.MTU() != 1500 {
		t.Errorf("VPNKit{}.Parent = %v, %v", pd, err)
	}
	// gvisor-tap-vsock's constructor needs an explicit CIDR.
	pd, err = netdriver.GVisorTapVsock{}.Parent(netdriver.ParentSetup{StateDir: dir})
	if err != nil || pd.MTU() != 65520 {
		t.Fatalf("GVisorTapVsock{}.Parent = %v, %v", pd, err)
	}
	info, err := pd.Info(t.Context())
	if err != nil || info.Driver != "gvisor-tap-vsock" {
		t.Errorf("Info = %+v, %v", info, err)
	}
	if _, err := (netdriver.Pasta{}).Parent(netdriver.ParentSetup{StateDir: dir, PortDriver: portdriver.NameSlirp4netns}); !errors.Is(err, netdriver.IDIncompatible) {
		t.Errorf("pasta with slirp4netns: %v", err)
	}
	if _, err := (netdriver.Slirp4netns{Sandbox: netdriver.True}).Parent(netdriver.ParentSetup{StateDir: dir, DetachNetNS: true, Log: nil}); err == nil {
		t.Errorf("sandbox with detached netns: no error")
	}
}
