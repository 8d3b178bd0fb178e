package rootless

import "github.com/rootlessd/rootlessd/diag"

// IDs of the findings about the daemon's file systems at launch (issue 14).
const (
	// IDDataRootUnwritable: the data root cannot be written: a read-only file system, or no
	// permission.
	IDDataRootUnwritable diag.ID = "rootless.data-root-unwritable"
)

// reliabilityIDs lists the IDs of ids_reliability.go.
func reliabilityIDs() []diag.ID { return []diag.ID{IDDataRootUnwritable} }
