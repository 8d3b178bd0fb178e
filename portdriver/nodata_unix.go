//go:build unix

package portdriver

import (
	"errors"

	"golang.org/x/sys/unix"
)

// isNoData reports whether err says the attribute does not exist (ENODATA).
func isNoData(err error) bool { return errors.Is(err, unix.ENODATA) }
