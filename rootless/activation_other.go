//go:build !linux

package rootless

import (
	"context"
	"net"
)

// Activator serves a Docker API socket for a daemon started on the first connection; off
// Linux it never starts one.
type Activator struct{}

// NewActivator returns ErrNotSupported: rootless Docker runs on Linux.
func NewActivator(opts ...Option) (*Activator, error) { return nil, ErrNotSupported }

func (a *Activator) Serve(ctx context.Context, ln net.Listener) error { return ErrNotSupported }
func (a *Activator) Daemon() *Daemon                                  { return nil }
func (a *Activator) Starts() int                                      { return 0 }
func (a *Activator) IdleStops() int                                   { return 0 }

// SystemdListeners returns ErrNotSupported: rootless Docker runs on Linux.
func SystemdListeners() ([]net.Listener, error) { return nil, ErrNotSupported }

// ListenUnix returns ErrNotSupported: rootless Docker runs on Linux.
func ListenUnix(path string) (net.Listener, error) { return nil, ErrNotSupported }
