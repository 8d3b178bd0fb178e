//go:build unix

package setup

import "golang.org/x/sys/unix"

// writable reports whether this process may write to path (access(2) W_OK), as the script's
// [ -w ] does.
func writable(path string) bool { return unix.Access(path, unix.W_OK) == nil }
