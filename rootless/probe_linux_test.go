//go:build linux

package rootless

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangingDockerd writes a dockerd wrapper that never answers --version: it ignores SIGTERM, and
// its child keeps the output pipe open (the case that exec.CommandContext without WaitDelay
// and without a process group got wrong). It records both pids in dir.
func hangingDockerd(t *testing.T, dir string) string {
	t.Helper()
	script := filepath.Join(dir, "dockerd")
	body := "#!/bin/sh\ntrap '' TERM INT HUP\nsleep 300 &\necho $! > " + dir + "/child.pid\necho $$ > " + dir + "/script.pid\nwait\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// TestProbeHangIsBounded (regression, issue 14): a dockerd --version probe that never
// answers ended neither Resolve nor Launch without a ctx deadline, and a killed probe left its
// child behind. Each probe is now bounded, killed with its process group, and named.
func TestProbeHangIsBounded(t *testing.T) {
	dir := t.TempDir()
	script := hangingDockerd(t, dir)
	h := newLocalHost()
	h.dockerdCache = nil
	h.probeTimeout = 300 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		_, err := probeDockerd(context.Background(), h.once(), script) // no deadline of its own
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a guard against a hang, not a measurement
		t.Fatal("the probe of a dockerd that never answers did not end")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), script+" --version: no answer: it did not finish within 300ms") {
		t.Errorf("probe error %v; want it to name the probe and its bound", err)
	}
	for _, f := range []string{"script.pid", "child.pid"} {
		b, rerr := os.ReadFile(filepath.Join(dir, f))
		if rerr != nil {
			t.Fatalf("the wrapper did not run: %v", rerr)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if !gone(pid, 10*time.Second) {
			t.Errorf("%s: process %d survived the probe", f, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// gone waits up to wait for pid to disappear (a zombie counts as gone: it runs nothing).
func gone(pid int, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		p, err := readProc(pid)
		if err != nil || p.exited() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
