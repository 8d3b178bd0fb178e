//go:build unix

package cgroupdeleg

import (
	"fmt"
	"io/fs"
	"syscall"
)

func statOwner(fi fs.FileInfo) (int, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no owner in %T", fi.Name(), fi.Sys())
	}
	return int(st.Uid), nil
}
