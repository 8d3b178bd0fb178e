//go:build !linux

package netdrivertest

import (
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
)

func checkEmbedded(t *testing.T, newDriver func() netdriver.Driver) {
	t.Skip("the embedded engine runs on Linux only")
}
