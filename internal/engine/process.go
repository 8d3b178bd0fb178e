package engine

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"

	"github.com/rootlessd/rootlessd/netdriver"
)

// StartOptions says how to start an engine for a Spec.
type StartOptions struct {
	// Executable is this program's executable, re-run for the helper (embedded engine) and the
	// target (both engines). Default: os.Executable().
	Executable string
	// RootlessKit is the path of an installed rootlesskit binary, run with the Spec's Flags for
	// Version. Empty selects the embedded engine.
	RootlessKit string
	Version     netdriver.Version
	// SpecDir is the private directory (0700) where the Spec's file is written for the
	// processes of the tree; the file is removed when the tree has exited.
	SpecDir string
	// Env is the environment of the helper or rootlesskit process and of the network driver
	// programs it starts (PATH decides which slirp4netns or pasta runs).
	Env []string
	// Output receives everything the process tree prints, stdout and stderr interleaved.
	Output io.Writer
}

// Process is a started engine: the helper or rootlesskit process, the process group leader of the
// tree below it. Exactly one goroutine waits for it.
type Process struct {
	cmd    *exec.Cmd
	spec   string // the Spec's file, removed when the tree has exited
	done   chan struct{}
	copied chan struct{} // closed when the tree's output has been copied to the end
	err    error         // the Wait result; read only after done is closed
	lost   atomic.Bool   // watchChild stopped the tree (ErrChildLost)
}

// PID is the helper's (or rootlesskit's) process id, which is also the process group id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// OutputCopied is closed once everything the process tree printed has reached Output: when
// the last process holding its stdout or stderr has exited.
func (p *Process) OutputCopied() <-chan struct{} { return p.copied }

// Err is the wait result once Done is closed: nil for exit status 0.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// ExitCode is the exit status after Done, or -1 if the process was killed by a signal.
func (p *Process) ExitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// Signal sends sig to the helper (or rootlesskit), which forwards it to the target.
func (p *Process) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// cleanEnv drops what must not leak into the engine: systemd socket activation meant for the
// host, and this package's own keys from an outer engine.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "LISTEN_FDS" || k == "LISTEN_PID" || k == "LISTEN_FDNAMES" || strings.HasPrefix(k, "_ROOTLESSD_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
