//go:build !linux

package engine

// Init records that it ran; off Linux there are no engine roles to dispatch.
func Init() { initialized.Store(true) }
