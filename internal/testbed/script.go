//go:build linux

package testbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ScriptDaemon is a rootless dockerd started through a stack's own dockerd-rootless.sh: the
// anchor that rootlessd is measured against.
type ScriptDaemon struct {
	Host     string // DOCKER_HOST
	Ready    time.Duration
	stack    Stack
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	log      *LockedBuffer
	dataRoot string
	runDir   string
}

// ScratchDir makes a short private directory under the user's runtime dir (unix socket paths
// must stay under 108 bytes, which t.TempDir can exceed). Its contents are removed at cleanup
// through the stack's rootlesskit, since a daemon leaves files owned by subordinate ids.
func ScratchDir(tb testing.TB, bed *Bed, stack Stack, base string) string {
	tb.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	dir := filepath.Join(base, "rd-"+hex.EncodeToString(b[:]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { RemoveAll(tb, stack, dir) })
	return dir
}

// RemoveAll deletes dir, including files owned by subordinate ids, by running rm inside a user
// namespace with the stack's rootlesskit (the documented way: `rootlesskit rm -rf`).
func RemoveAll(tb testing.TB, stack Stack, dir string) {
	tb.Helper()
	if err := os.RemoveAll(dir); err == nil {
		return
	}
	out, err := exec.Command(stack.Binary("rootlesskit"), "rm", "-rf", dir).CombinedOutput()
	if err != nil {
		tb.Errorf("rootlesskit rm -rf %s: %v\n%s", dir, err, out)
	}
}

// StartScript starts dockerd through stack's dockerd-rootless.sh as the current user, with a
// private XDG_RUNTIME_DIR and data root, and waits until the API answers. It stops the daemon at
// cleanup if the test did not.
func StartScript(tb testing.TB, bed *Bed, stack Stack, extraEnv ...string) *ScriptDaemon {
	tb.Helper()
	u := bed.Self()
	d := &ScriptDaemon{stack: stack, done: make(chan struct{}), log: &LockedBuffer{}}
	d.runDir = ScratchDir(tb, bed, stack, u.RuntimeDir)
	d.dataRoot = ScratchDir(tb, bed, stack, u.Home)
	sock := filepath.Join(d.runDir, "docker.sock")
	d.Host = "unix://" + sock
	d.cmd = exec.Command(stack.Binary("dockerd-rootless.sh"), "--data-root", d.dataRoot)
	d.cmd.Env = append([]string{
		"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name,
		"XDG_RUNTIME_DIR=" + d.runDir, "PATH=" + stack.Path(),
	}, extraEnv...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := d.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", d.cmd.Path, err)
	}
	go func() { d.waitErr = d.cmd.Wait(); close(d.done) }()
	tb.Cleanup(func() {
		if err := d.Stop(); err != nil {
			tb.Errorf("stop dockerd-rootless.sh: %v", err)
		}
		if tb.Failed() {
			tb.Logf("dockerd-rootless.sh (%s) output:\n%s", stack.Name, d.log.String())
		}
	})
	if err := waitPing(tb.Context(), sock, d.done, 2*time.Minute); err != nil {
		tb.Fatalf("dockerd-rootless.sh (%s) did not become ready: %v\n%s", stack.Name, err, d.log.String())
	}
	d.Ready = time.Since(start)
	return d
}

// DataRoot is the daemon's data root.
func (d *ScriptDaemon) DataRoot() string { return d.dataRoot }

// PID is the script's process, which execs rootlesskit: RootlessKit's parent.
func (d *ScriptDaemon) PID() int { return d.cmd.Process.Pid }

// Log returns what the script and the daemon printed so far.
func (d *ScriptDaemon) Log() string { return d.log.String() }

// Stop sends SIGTERM to the script (RootlessKit forwards it to dockerd) and waits for the whole
// process group; after a minute it kills the group. It is safe to call more than once.
func (d *ScriptDaemon) Stop() error {
	select {
	case <-d.done:
		return nil
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
		return errors.New("did not exit within a minute of SIGTERM; killed")
	}
	var ee *exec.ExitError
	if d.waitErr != nil && !errors.As(d.waitErr, &ee) {
		return d.waitErr
	}
	return nil
}

// waitPing polls GET /_ping on the unix socket until it answers 200, the process exits, or wait
// passes.
func waitPing(ctx context.Context, sock string, exited <-chan struct{}, wait time.Duration) error {
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var last error
	for {
		resp, err := hc.Get("http://docker/_ping")
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
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LockedBuffer is a bytes.Buffer that several goroutines may write and read.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
