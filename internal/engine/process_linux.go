//go:build linux

package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
)

// Start starts the engine. It returns once the process exists; readiness is the caller's to
// observe (RootlessKit writes StateChildPID when the namespaces are set up).
func Start(spec *Spec, so StartOptions) (*Process, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(so.SpecDir) {
		return nil, fmt.Errorf("engine: spec directory %q is not absolute", so.SpecDir)
	}
	exe, flags, err := so.command(spec)
	if err != nil {
		return nil, err
	}
	specFile, err := writeSpec(spec, so.SpecDir)
	if err != nil {
		return nil, err
	}
	env := cleanEnv(so.Env)
	var cmd *exec.Cmd
	if so.RootlessKit == "" {
		cmd = exec.Command(exe)
		cmd.Args = []string{"rootlessd-engine"} // what ps shows; RootlessKit re-runs /proc/self/exe
		env = append(env, envRole+"="+roleParent, envConfig+"="+specFile)
	} else {
		cmd = exec.Command(so.RootlessKit, append(flags, exe)...)
		env = append(env, envRole+"="+roleTarget, envConfig+"="+specFile)
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // one group to signal and to kill
		Pdeathsig: syscall.SIGKILL, // the tree dies with its owner; see supervise for the thread
	}
	if so.RootlessKit == "" {
		// Our helper catches its owner's death to kill the tree itself and remove what would
		// outlive it (hostDeathSignal); an installed rootlesskit would forward the signal.
		cmd.SysProcAttr.Pdeathsig = hostDeathSignal
	}
	r, w, err := os.Pipe()
	if err != nil {
		os.Remove(specFile)
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	p := &Process{cmd: cmd, spec: specFile, done: make(chan struct{}), copied: make(chan struct{})}
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
	go p.watchChild(spec.StateDir)
	return p, nil
}

// supervise starts the process and owns its Wait. Pdeathsig fires when the thread that forked
// the child exits, not the process, so the forking goroutine locks its thread and keeps it until
// the child is gone.
func (p *Process) supervise(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := p.cmd.Start(); err != nil {
		os.Remove(p.spec)
		started <- err
		close(p.done)
		return
	}
	started <- nil
	p.err = p.lostError(p.cmd.Wait())
	os.Remove(p.spec)
	close(p.done)
}

// WaitStatus is the wait status of the exited process; ok is false before Done or when the
// process could not be started.
func (p *Process) WaitStatus() (ws syscall.WaitStatus, ok bool) {
	select {
	case <-p.done:
	default:
		return 0, false
	}
	if p.cmd.ProcessState == nil {
		return 0, false
	}
	ws, ok = p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ws, ok
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

// command is what a start runs: the executable (so's, else this one) and, for an installed
// rootlesskit, its flags for spec.
func (so StartOptions) command(spec *Spec) (exe string, flags []string, err error) {
	exe = so.Executable
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return "", nil, fmt.Errorf("find own executable: %w", err)
		}
	}
	if so.RootlessKit != "" {
		if flags, err = spec.Flags(so.Version); err != nil {
			return "", nil, err
		}
	}
	return exe, flags, nil
}
