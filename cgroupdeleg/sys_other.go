//go:build !linux

package cgroupdeleg

import (
	"errors"
	"io/fs"
)

func hostStatfs(name string) (int64, error) {
	return 0, &fs.PathError{Op: "statfs", Path: "/" + name, Err: errors.ErrUnsupported}
}
