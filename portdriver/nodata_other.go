//go:build !unix

package portdriver

// isNoData reports whether err says the attribute does not exist: there are no extended
// attributes to read off Unix.
func isNoData(error) bool { return true }
