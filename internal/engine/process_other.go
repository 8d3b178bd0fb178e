//go:build !linux

package engine

import "errors"

// Start reports that the engine runs only on Linux.
func Start(spec *Spec, so StartOptions) (*Process, error) {
	return nil, errors.New("engine: rootless Docker runs on Linux only")
}

// Kill kills the process; off Linux there is never one.
func (p *Process) Kill() error { return p.cmd.Process.Kill() }
