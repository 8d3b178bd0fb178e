package idmap

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"
)

// inspectHelper stats h.Path, reads its capabilities and the mount flags.
func inspectHelper(h *Helper) error {
	var st unix.Stat_t
	if err := unix.Stat(h.Path, &st); err != nil {
		return err
	}
	mode := fs.FileMode(st.Mode & 0o777)
	if st.Mode&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	xattr, err := getxattr(h.Path, "security.capability")
	if err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ENOTSUP) {
		return err
	}
	judgeHelper(h, mode, st.Uid, xattr)
	var sfs unix.Statfs_t
	if err := unix.Statfs(h.Path, &sfs); err == nil {
		h.NoSuid = sfs.Flags&unix.ST_NOSUID != 0
	}
	return nil
}

func getxattr(path, name string) ([]byte, error) {
	buf := make([]byte, 64)
	for {
		n, err := unix.Getxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) && len(buf) < 1<<16 {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
