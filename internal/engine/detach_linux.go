//go:build linux

package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Detach says how a detached tree runs: independent of the process that starts it.
type Detach struct {
	// Log is the file that receives everything the tree prints (appended to). The starting
	// process follows it into StartOptions.Output while it lives.
	Log string
	// Inherit are open files the tree keeps for its whole life (the state dir's and data
	// root's flocks: they stay held after the starting process has let go or died).
	Inherit []*os.File
}

// ErrNotChild is the wait result of an adopted tree: it was not this process's child, so its
// exit status is unknown.
var ErrNotChild = errors.New("engine: the tree was started by another process; its exit status is unknown")

// StartDetached starts the engine like Start, but detached: no parent-death signal (the tree
// outlives this process, even its SIGKILL), a session of its own (no terminal's signals reach
// it), and its output in d.Log instead of a pipe to this process. It still runs in its own PID
// namespace if the Spec says so, so that stopping it leaves nothing. This process remains its
// parent while it lives and reaps it.
func StartDetached(spec *Spec, so StartOptions, d Detach) (*Process, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(so.SpecDir) || !filepath.IsAbs(d.Log) {
		return nil, fmt.Errorf("engine: spec directory %q or log %q is not absolute", so.SpecDir, d.Log)
	}
	exe, flags, err := so.command(spec)
	if err != nil {
		return nil, err
	}
	logw, err := os.OpenFile(d.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("engine: daemon log: %w", err)
	}
	defer logw.Close() // the tree has its own copy
	logr, err := os.Open(d.Log)
	if err != nil {
		return nil, fmt.Errorf("engine: daemon log: %w", err)
	}
	if _, err := logr.Seek(0, io.SeekEnd); err != nil {
		logr.Close()
		return nil, err
	}
	specFile, err := writeSpec(spec, so.SpecDir)
	if err != nil {
		logr.Close()
		return nil, err
	}
	env := cleanEnv(so.Env)
	var cmd *exec.Cmd
	if so.RootlessKit == "" {
		cmd = exec.Command(exe)
		cmd.Args = []string{"rootlessd-engine"}
		env = append(env, envRole+"="+roleParent, envConfig+"="+specFile)
	} else {
		cmd = exec.Command(so.RootlessKit, append(flags, exe)...)
		env = append(env, envRole+"="+roleTarget, envConfig+"="+specFile)
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.ExtraFiles = d.Inherit
	// A session of its own makes it a process group leader too: Kill still reaches the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		os.Remove(specFile)
		logr.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{cmd: cmd, spec: specFile, done: make(chan struct{}), copied: make(chan struct{}),
		detach: &detachState{release: make(chan struct{})}}
	go func() {
		p.err = p.lostError(cmd.Wait())
		os.Remove(specFile)
		close(p.done)
	}()
	go p.follow(logr, so.Output)
	go p.watchChild(spec.StateDir)
	return p, nil
}

// follow copies what the tree appends to its log into out until the tree exits (then to the
// end) or Release is called.
func (p *Process) follow(r *os.File, out io.Writer) {
	defer close(p.copied)
	defer r.Close()
	if out == nil {
		out = io.Discard
	}
	for {
		_, _ = io.Copy(out, r)
		select {
		case <-p.done:
			_, _ = io.Copy(out, r)
			return
		case <-p.detach.release:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Release stops following a detached tree's log; the tree runs on. It does nothing for a tree
// started by Start.
func (p *Process) Release() {
	if p.detach != nil {
		p.detach.releaseOnce.Do(func() { close(p.detach.release) })
	}
}

// Abandon stops watching an adopted tree that the caller will not use (Done then closes, and
// means nothing); the tree runs on. It does nothing for other trees.
func (p *Process) Abandon() {
	if p.detach != nil && p.detach.pidfd != nil {
		_ = p.detach.pidfd.Close()
	}
}

// Detached reports whether the tree runs detached (StartDetached) or was adopted (Adopt).
func (p *Process) Detached() bool { return p.detach != nil }

// Adopt takes over a detached tree that another process started: pid is its leader (the
// helper or rootlesskit), startTime its start time as StartTime read it then. It fails if pid
// is gone or is now another process (a reused pid). Done closes when the tree exits (a pidfd:
// no thread is held); then the last 64 KiB of log, if set, are copied to out. Signal and Kill
// work as for a started tree (Signal through the pidfd); the exit status is unknown (Err is
// ErrNotChild, ExitCode -1).
func Adopt(pid int, startTime uint64, log string, out io.Writer) (*Process, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	// Checked after the pidfd is open: from here on the number cannot be reused under us.
	if st, err := StartTime(pid); err != nil || st != startTime {
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("process %d: %w", pid, err)
		}
		return nil, fmt.Errorf("process %d started at tick %d, not %d: it is another process that reuses the pid", pid, st, startTime)
	}
	proc, err := os.FindProcess(pid) // a pidfd of its own in Go >= 1.23: Signal cannot hit a reused pid
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	p := &Process{cmd: &exec.Cmd{Process: proc}, done: make(chan struct{}), copied: make(chan struct{}),
		detach: &detachState{release: make(chan struct{})}}
	f := os.NewFile(uintptr(fd), "pidfd")
	p.detach.pidfd = f
	go func() {
		defer f.Close()
		if rc, err := f.SyscallConn(); err == nil {
			_ = rc.Read(func(fd uintptr) bool {
				n, perr := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
				return perr != nil || n > 0
			})
		}
		p.err = ErrNotChild
		close(p.done)
		if log != "" && out != nil {
			_ = copyTail(log, out, 64<<10)
		}
		close(p.copied)
	}()
	return p, nil
}

// copyTail writes the last n bytes of the file at path to out, from a line start.
func copyTail(path string, out io.Writer, n int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	_, err = out.Write(b)
	return err
}

// StartTime is pid's start time in clock ticks after boot (field 22 of /proc/PID/stat): with
// the boot id, it tells a process from a later one that reuses its pid.
func StartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("no such process: %w", os.ErrProcessDone)
		}
		return 0, err
	}
	return parseStartTime(b)
}

// parseStartTime reads field 22 of /proc/PID/stat; COMM (field 2) may hold spaces and ')'.
func parseStartTime(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:])) // fields 3 onwards
	if len(f) < 20 {
		return 0, errors.New("malformed /proc/PID/stat: too few fields")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// BootID identifies this boot of the kernel: process start times count from it.
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b)), err
}
