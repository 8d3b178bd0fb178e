//go:build !linux

package probecache

// identity is not known off Linux: nothing is cached.
func identity(string) (string, bool) { return "", false }

func safeDir(string, bool) bool { return false }

func readSafe(string) ([]byte, bool) { return nil, false }
