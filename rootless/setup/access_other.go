//go:build !unix

package setup

// writable reports false: there is no rootful Docker socket to find off Unix.
func writable(string) bool { return false }
