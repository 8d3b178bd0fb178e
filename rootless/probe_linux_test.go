package rootless

import (
	"context"
	"errors"
	"os"
	"os/exec"
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
		if err != nil || p.Exited() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkProbes times each probe that Check starts, uncached: the overlay mount in a new user
// and mount namespace, and iptables's nat table in a new user and network namespace.
//
//	go test ./rootless -run '^$' -bench Probes
func BenchmarkProbes(b *testing.B) {
	h := localHost("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	ctx := context.Background()
	b.Run("overlay", func(b *testing.B) {
		dir := b.TempDir()
		for b.Loop() {
			if out, err := h.overlay(ctx, dir); err != nil {
				b.Skipf("no overlay in a user namespace here: %v %s", err, out)
			}
		}
	})
	b.Run("iptables", func(b *testing.B) {
		ipt, err := exec.LookPath("iptables")
		if err != nil {
			b.Skip(err)
		}
		for b.Loop() {
			if out, err := h.nsRun(ctx, []string{"XTABLES_LOCKFILE=/dev/null"}, ipt, "-w", "-t", "nat", "-N", "ROOTLESSD-PROBE"); err != nil {
				b.Skipf("iptables fails in a user namespace here: %v %s", err, out)
			}
		}
	})
	b.Run("userns", func(b *testing.B) {
		t, err := exec.LookPath("true")
		if err != nil {
			b.Skip(err)
		}
		for b.Loop() {
			if out, err := h.nsRun(ctx, nil, t); err != nil {
				b.Skipf("no user namespace here: %v %s", err, out)
			}
		}
	})
}
