//go:build integration

package integration

import (
	"os"
	"testing"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

func TestMain(m *testing.M) {
	// This test binary is also the embedded engine's helper, RootlessKit child and target.
	rootless.Init()
	testbed.SetRootSteps(rootSteps) // what some tests need done as root (rootsteps_test.go)
	if raw := os.Getenv(envHost); raw != "" {
		os.Exit(hostProcess(raw)) // a host program that other tests start and kill
	}
	testbed.Main(m)
}
