//go:build linux

package testbed

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// SpawnDropIn starts program, which is stack's dockerd-rootless.sh or a drop-in replacement for
// it (examples/launcher), as u with the script's contract: XDG_RUNTIME_DIR runDir (the socket is
// runDir/docker.sock), --data-root dataRoot, the stack first in PATH, and extraEnv (its
// DOCKERD_ROOTLESS_ROOTLESSKIT_* variables). It returns at once; [WaitPing] waits for the API.
// This process must be u, or root, which starts program with u's credentials. Stop ends it.
func SpawnDropIn(u User, stack Stack, program, runDir, dataRoot string, extraEnv ...string) (*ScriptDaemon, error) {
	d := &ScriptDaemon{stack: stack, done: make(chan struct{}), log: &LockedBuffer{}, runDir: runDir, dataRoot: dataRoot}
	d.Host = "unix://" + d.Socket()
	d.cmd = exec.Command(program, "--data-root", dataRoot)
	d.cmd.Env = append([]string{
		"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name,
		"XDG_RUNTIME_DIR=" + runDir, "PATH=" + stack.Path(),
	}, extraEnv...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 && u.UID != 0 {
		d.cmd.SysProcAttr.Credential = u.Credential()
		d.cmd.Dir = runDir // root's working directory may be closed to u
	}
	d.Started = time.Now()
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", program, err)
	}
	go func() { d.waitErr = d.cmd.Wait(); close(d.done) }()
	return d, nil
}

// Socket is the path of the daemon's API socket.
func (d *ScriptDaemon) Socket() string { return filepath.Join(d.runDir, "docker.sock") }

// Done is closed when the started process has exited.
func (d *ScriptDaemon) Done() <-chan struct{} { return d.done }

// Credential is u's identity without supplementary groups, for starting processes as u.
func (u User) Credential() *syscall.Credential {
	return &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}
}

// WaitPing polls GET /_ping on the unix socket sock every interval until it answers 200, exited
// is closed (the daemon's process ended), or ctx ends. Every attempt has a fresh connection.
func WaitPing(ctx context.Context, sock string, exited <-chan struct{}, interval time.Duration) error {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-exited:
			return fmt.Errorf("exited before ready (last ping error: %v)", last)
		case <-ctx.Done():
			return fmt.Errorf("%w (last ping error: %v)", ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}

// ShareExecutable copies this program to a new directory under /var/tmp that every user may
// enter, so that it can be re-run as a test user (`go run` and `go test` build in a directory
// only root can enter). remove deletes the copy.
func ShareExecutable() (path string, remove func() error, err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("/var/tmp", "rootlessd-exe.")
	if err != nil {
		return "", nil, err
	}
	remove = func() error { return os.RemoveAll(dir) }
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, filepath.Base(exe))
	if err := copyFile(exe, path, 0o755); err != nil {
		remove()
		return "", nil, err
	}
	return path, remove, nil
}
