//go:build !linux

package rootless

import (
	"context"
	"os/exec"

	"github.com/docker/docker/client"

	"github.com/rootlessd/rootlessd/portdriver"
)

// Off Linux the package compiles, so that IDE plugins and dev tools built for macOS and Windows
// link it, and every entry point returns ErrNotSupported.

// Launch returns ErrNotSupported: rootless Docker runs on Linux.
func Launch(ctx context.Context, opts ...Option) (*Daemon, error) { return nil, ErrNotSupported }

// Launch returns ErrNotSupported: rootless Docker runs on Linux.
func (p *Plan) Launch(ctx context.Context) (*Daemon, error) { return nil, ErrNotSupported }

// RemoveAll returns ErrNotSupported: rootless Docker runs on Linux.
func RemoveAll(ctx context.Context, path string, opts ...Option) error { return ErrNotSupported }

// Daemon is a running rootless dockerd; off Linux there is never one.
type Daemon struct{}

func (d *Daemon) Host() string                       { return "" }
func (d *Daemon) SocketPath() string                 { return "" }
func (d *Daemon) Env() []string                      { return nil }
func (d *Daemon) Info() Info                         { return Info{} }
func (d *Daemon) Client() (*client.Client, error)    { return nil, ErrNotSupported }
func (d *Daemon) Ports() *portdriver.Manager         { return nil }
func (d *Daemon) PID() int                           { return 0 }
func (d *Daemon) Err() error                         { return ErrNotSupported }
func (d *Daemon) Wait() error                        { return ErrNotSupported }
func (d *Daemon) Shutdown(ctx context.Context) error { return ErrNotSupported }
func (d *Daemon) Close() error                       { return ErrNotSupported }

// Done is closed: there is no daemon.
func (d *Daemon) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// Command returns a command that fails with ErrNotSupported.
func (d *Daemon) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Err = ErrNotSupported
	return cmd
}
