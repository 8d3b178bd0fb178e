//go:build !linux

package portdrivertest

import (
	"testing"

	"github.com/rootlessd/rootlessd/portdriver"
)

func checkEmbedded(t *testing.T, newDriver func() portdriver.Driver) {
	t.Skip("the embedded engine runs on Linux only")
}
