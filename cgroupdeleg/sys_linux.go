//go:build linux

package cgroupdeleg

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

func hostStatfs(name string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/"+name, &st); err != nil {
		return 0, &fs.PathError{Op: "statfs", Path: "/" + name, Err: err}
	}
	return int64(st.Type), nil //nolint:unconvert // Type is int32 or uint32 on some GOARCHes
}
