//go:build !linux

package engine

import (
	"errors"
	"os"
	"time"
)

// ProbeListener is where the host receives the probe socket from the target; Linux only.
type ProbeListener struct{}

// ListenProbe returns an error off Linux.
func ListenProbe(path string) (*ProbeListener, error) { return nil, errors.ErrUnsupported }

// Receive returns an error off Linux.
func (p *ProbeListener) Receive(deadline time.Time) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

// Close does nothing off Linux.
func (p *ProbeListener) Close() error { return nil }
