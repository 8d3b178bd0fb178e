//go:build guest

package guest

import (
	"os"
	"testing"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

func TestMain(m *testing.M) {
	// This test binary is also the embedded engine's helper, RootlessKit child and target.
	rootless.Init()
	os.Exit(testbed.GuestMain(m))
}
