package setup

import (
	"testing"

	"github.com/rootlessd/rootlessd/internal/diagtest"
)

// TestIDs: the IDs this package writes are the constants IDs lists, and no other.
func TestIDs(t *testing.T) {
	diagtest.CheckIDs(t, ".", "setup", IDs(), 10)
}
