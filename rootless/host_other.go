//go:build !linux

package rootless

import (
	"errors"
	"io/fs"
)

func engineInitialized() bool { return false }

func setLocalOS(h *host) {
	h.statfs = func(string) (int64, error) { return 0, errors.ErrUnsupported }
	h.dir = func(string) (int, fs.FileMode, error) { return 0, 0, errors.ErrUnsupported }
	h.tun = func() error { return errors.ErrUnsupported }
	h.selinux = func() bool { return false }
	setLocalProbes(h)
	h.dial = func(string) error { return errors.ErrUnsupported }
	h.fileID = func(string) (string, uint64, error) { return "", 0, errors.ErrUnsupported }
	h.openRW = func(string) error { return errors.ErrUnsupported }
}
