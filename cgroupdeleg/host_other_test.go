//go:build !linux

package cgroupdeleg_test

import (
	"testing"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
)

// statfsMode: there are no cgroups outside Linux.
func statfsMode(*testing.T) cgroupdeleg.Mode { return cgroupdeleg.Unavailable }
