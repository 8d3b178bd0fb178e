//go:build integration

package integration

import (
	"testing"

	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/internal/testbed"
)

func TestMain(m *testing.M) {
	// This test binary is also the embedded engine's helper, RootlessKit child and target.
	engine.Init(hostOnly{})
	testbed.Main(m)
}
