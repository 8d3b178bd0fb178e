package engine

import (
	"os"
	"sync/atomic"
)

var initialized atomic.Bool

// Initialized reports whether Init ran in this process.
func Initialized() bool { return initialized.Load() }

// StartedAsRole reports whether this process was started as one of the engine's roles. If it
// is still running the host program's code, Init was not called first in main: starting
// another engine from here would recurse.
func StartedAsRole() bool { return os.Getenv(envRole) != "" }
