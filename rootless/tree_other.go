//go:build !linux

package rootless

import "strconv"

func signalName(sig int) string { return "signal " + strconv.Itoa(sig) }
