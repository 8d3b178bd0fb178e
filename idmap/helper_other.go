//go:build !linux

package idmap

import "errors"

func inspectHelper(h *Helper) error {
	return errors.New("idmap: newuidmap and newgidmap exist on Linux only")
}
