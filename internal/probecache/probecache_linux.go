//go:build linux

package probecache

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// identity is what tells versions of the program file at name apart: device, inode, size,
// modification and change times. ok is false for anything but an executable regular file.
func identity(name string) (string, bool) {
	var st unix.Stat_t
	if unix.Stat(name, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return "", false
	}
	return fmt.Sprintf("%d:%d:%d:%d.%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec), true
}

// owned reports st as this user's own and writable by no one else.
func owned(st *unix.Stat_t) bool {
	return int(st.Uid) == os.Geteuid() && st.Mode&0o022 == 0
}

// safeDir reports whether dir is a directory that only this user can write in, a real one
// (not a symbolic link) whose parent (the runtime directory) is this user's too. create makes
// a missing dir (0700).
func safeDir(dir string, create bool) bool {
	var st unix.Stat_t
	if unix.Stat(filepath.Dir(dir), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || !owned(&st) {
		return false
	}
	err := unix.Lstat(dir, &st)
	if err == unix.ENOENT && create {
		if os.Mkdir(dir, 0o700) != nil {
			return false
		}
		err = unix.Lstat(dir, &st)
	}
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR && owned(&st)
}

// readSafe reads the file at p, unless it is a symbolic link, not a regular file, not this
// user's own, writable by others, or larger than MaxFile.
func readSafe(p string) ([]byte, bool) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || !owned(&st) || st.Size > MaxFile {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFile+1))
	if err != nil || len(b) > MaxFile {
		return nil, false
	}
	return b, true
}
