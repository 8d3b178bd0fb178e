package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
)

// StartOptions says how to start an engine for a Config.
type StartOptions struct {
	// Executable is this program's executable, re-run for the helper (embedded engine) and the
	// target (both engines). Default: os.Executable().
	Executable string
	// RootlessKit is the path of an installed rootlesskit binary, whose Flags precede the target.
	// Empty selects the embedded engine.
	RootlessKit string
	Flags       []string
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
	done   chan struct{}
	copied chan struct{} // closed when the tree's output has been copied to the end
	err    error         // the Wait result; read only after done is closed
}

// Start starts the engine. It returns once the process exists; readiness is the caller's to
// observe (RootlessKit writes StateChildPID when the namespaces are set up).
func Start(cfg *Config, so StartOptions) (*Process, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	exe := so.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
	}
	enc, err := encodeConfig(cfg)
	if err != nil {
		return nil, err
	}
	env := cleanEnv(so.Env)
	var cmd *exec.Cmd
	if so.RootlessKit == "" {
		cmd = exec.Command(exe)
		cmd.Args = []string{"rootlessd-engine"} // what ps shows; RootlessKit re-runs /proc/self/exe
		env = append(env, envRole+"="+roleParent, envConfig+"="+enc)
	} else {
		cmd = exec.Command(so.RootlessKit, append(slices.Clone(so.Flags), exe)...)
		env = append(env, envRole+"="+roleTarget, envConfig+"="+enc)
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // one group to signal and to kill
		Pdeathsig: syscall.SIGKILL, // the tree dies with its owner; see supervise for the thread
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	p := &Process{cmd: cmd, done: make(chan struct{}), copied: make(chan struct{})}
	started := make(chan error, 1)
	go p.supervise(started)
	err = <-started
	w.Close()
	if err != nil {
		r.Close()
		close(p.copied)
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	out := so.Output
	if out == nil {
		out = io.Discard
	}
	go func() {
		_, _ = io.Copy(out, r)
		r.Close()
		close(p.copied)
	}()
	return p, nil
}

// supervise starts the process and owns its Wait. Pdeathsig fires when the thread that forked
// the child exits, not the process, so the forking goroutine locks its thread and keeps it until
// the child is gone.
func (p *Process) supervise(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := p.cmd.Start(); err != nil {
		started <- err
		close(p.done)
		return
	}
	started <- nil
	p.err = p.cmd.Wait()
	close(p.done)
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
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to the whole process group. Everything in the PID namespace dies with its
// init (RootlessKit's child), which is in the group.
func (p *Process) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
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
