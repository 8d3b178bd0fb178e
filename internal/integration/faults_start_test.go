//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// startHang is the start-up timeout of the scenarios that hang a start on purpose.
const startHang = 4 * time.Second

// stopScenarios: SIGSTOP (a hang) of dockerd, of the network process and of RootlessKit's
// child. During start-up Launch must end with a *StartError naming what stopped answering,
// after the start-up timeout, without a ctx deadline; at steady state the watchdog must see it.
var stopScenarios = []scenario{
	{name: "SIGSTOP dockerd at start-up", f: stopAtStart("dockerd")},
	{name: "SIGSTOP network process at start-up", shared: true, f: stopAtStart("network")},
	{name: "SIGSTOP RootlessKit child at start-up", shared: true, f: stopAtStart("child")},
	{name: "SIGSTOP dockerd at steady state", f: stopSteady("dockerd", "dockerd")},
	{name: "SIGSTOP network process at steady state", shared: true, f: stopSteady("network", "slirp4netns")},
	{name: "SIGSTOP RootlessKit child at steady state", shared: true, f: stopSteady("child", "RootlessKit's child")},
	{name: "dockerd never serves its API", f: neverServes},
	{name: "dockerd --version never answers", shared: true, f: neverAnswersVersion},
}

// neverServes: a dockerd that runs but never serves its API, started without a ctx deadline
// (as examples/launcher does), ends at the start-up timeout with a StartError naming it.
func neverServes(t *testing.T, fx *fixture, row *faultRow) {
	path := filepath.Join(t.TempDir(), "dockerd")
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in --version|-v) exec %s \"$@\";; esac\nwhile :; do sleep 1; done\n", fx.stack.Binary("dockerd"))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, err := rootless.Launch(context.Background(), fx.opts(rootless.WithStartTimeout(startHang),
		rootless.WithBinaries(rootless.Binaries{Dockerd: path, Path: []string{fx.stack.Bin}}))...)
	row.Detect, row.DetectWhat = time.Since(start), "until Launch returned; the start-up timeout is "+startHang.String()
	if d != nil {
		d.Close()
		t.Fatal("Launch succeeded")
	}
	row.Seen = short(err)
	se, ok := errors.AsType[*rootless.StartError](err)
	if !ok || se.Stage != rootless.StageDockerd || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(se.Err.Error(), "did not answer GET /_ping") || !strings.Contains(se.Err.Error(), "dockerd (pid ") {
		t.Errorf("Launch: %v\nwant a StartError at stage dockerd naming dockerd that did not answer", err)
	}
}

// neverAnswersVersion: a dockerd wrapper that ignores SIGTERM and whose child holds the
// output open never answers --version; Launch ends at the start-up timeout, names the probe,
// and leaves neither the wrapper nor its child.
func neverAnswersVersion(t *testing.T, fx *fixture, row *faultRow) {
	path := filepath.Join(t.TempDir(), "dockerd")
	if err := os.WriteFile(path, []byte("#!/bin/sh\ntrap '' TERM INT HUP\nsleep 600 &\nwait\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, err := rootless.Launch(context.Background(), fx.opts(rootless.WithStartTimeout(startHang),
		rootless.WithBinaries(rootless.Binaries{Dockerd: path, Path: []string{fx.stack.Bin}}))...)
	row.Detect, row.DetectWhat = time.Since(start), "until Launch returned; the start-up timeout is "+startHang.String()
	if d != nil {
		d.Close()
		t.Fatal("Launch succeeded")
	}
	row.Seen = short(err)
	se, ok := errors.AsType[*rootless.StartError](err)
	if !ok || se.Stage != rootless.StageCheck || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), path+" --version: no answer") {
		t.Errorf("Launch: %v\nwant a StartError at stage check naming %s --version", err, path)
	}
}

// stopWrapper writes an executable script called name in dir that runs real, but stops itself
// first unless it is asked for its version or help (the probes).
func stopWrapper(t *testing.T, dir, name, real string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in --version|-v|--help|-h) exec %s \"$@\";; esac\nkill -STOP $$\nexec %s \"$@\"\n", real, real)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// stopAtStart makes the process of role stop itself as the launch starts it.
func stopAtStart(role string) func(t *testing.T, fx *fixture, row *faultRow) {
	return func(t *testing.T, fx *fixture, row *faultRow) {
		dir := t.TempDir()
		var opts []rootless.Option
		want := ""
		switch role {
		case "dockerd":
			opts = append(opts, rootless.WithBinaries(rootless.Binaries{Dockerd: stopWrapper(t, dir, "dockerd", fx.stack.Binary("dockerd")), Path: []string{fx.stack.Bin}}))
			want = "dockerd (pid "
		case "network":
			stopWrapper(t, dir, "slirp4netns", "/usr/bin/slirp4netns")
			opts = append(opts, rootless.WithBinaries(rootless.Binaries{Path: []string{dir, fx.stack.Bin}}))
			want = "slirp4netns (pid "
		case "child":
			// RootlessKit's child is the PID namespace's init, which cannot stop itself: stop it
			// from outside as soon as it exists.
			want = "RootlessKit's child (pid "
		}
		out := &testbed.LockedBuffer{}
		stopped := make(chan int, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if role == "child" {
			go stopChildEarly(ctx, stopped)
		}
		start := time.Now()
		d, err := rootless.Launch(context.Background(), fx.opts(append(opts, logger(out), rootless.WithStartTimeout(startHang))...)...)
		cancel()
		row.Detect, row.DetectWhat = time.Since(start), "until Launch returned; the start-up timeout is "+startHang.String()
		if d != nil {
			d.Close()
			t.Fatal("Launch succeeded with a stopped " + role)
		}
		row.Seen = short(err)
		se, ok := errors.AsType[*rootless.StartError](err)
		if !ok || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(se.Err.Error(), want) || !strings.Contains(se.Err.Error(), "is stopped") {
			t.Errorf("Launch: %v\nwant a *StartError past the start-up timeout naming %q as stopped\nlog:\n%s", err, want, out.String())
		}
		if ok && !strings.Contains(se.Cause, "was stopped") {
			t.Errorf("StartError cause %q does not say the process was stopped", se.Cause)
		}
		if role == "child" {
			if pid := <-stopped; !strings.Contains(se.Err.Error(), fmt.Sprintf("RootlessKit's child (pid %d)", pid)) {
				t.Errorf("the StartError does not name the child %d that was stopped", pid)
			}
		}
	}
}

// stopChildEarly stops RootlessKit's child (the embedded engine's helper's child that runs the
// same executable) as soon as it appears, and sends its pid.
func stopChildEarly(ctx context.Context, stopped chan<- int) {
	defer close(stopped)
	for ctx.Err() == nil {
		for _, p := range mine(testbed.ProcessesOf(os.Getuid())) {
			if p.Cmdline != "rootlessd-engine" {
				continue
			}
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID))
			for _, c := range below(p.PID) {
				if cexe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", c)); cexe == exe && parentOf(c) == p.PID {
					_ = syscall.Kill(c, syscall.SIGSTOP)
					stopped <- c
					return
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// parentOf is pid's parent, 0 if unknown.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// stopSteady stops the process of role once the daemon runs; the watchdog must find it
// stopped, and stop the daemon.
func stopSteady(role, process string) func(t *testing.T, fx *fixture, row *faultRow) {
	return func(t *testing.T, fx *fixture, row *faultRow) {
		d, _ := launchLogged(t, fx.opts(rootless.WithStopTimeout(2*time.Second), fastWatchdog(false))...)
		pid := onePID(t, d, role)
		start := time.Now()
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer syscall.Kill(pid, syscall.SIGKILL) // if the test fails early
		h := awaitHealth(t, d, time.Minute, func(h rootless.Health) bool { return h.State == rootless.Unhealthy })
		row.Detect, row.DetectWhat = time.Since(start), "until Health was unhealthy"
		he, ok := errors.AsType[*rootless.HealthError](h.Err)
		if !ok || he.Process != process || he.PID != pid || !strings.Contains(he.Detail, "is stopped") {
			t.Errorf("Health.Err = %v, want %s (pid %d) stopped", h.Err, process, pid)
		}
		await(t, d.Done(), 2*time.Minute, "Done after the watchdog found "+process+" stopped")
		ee := exitOf(t, d)
		row.Seen = short(ee)
		if he, ok := errors.AsType[*rootless.HealthError](ee); !ok || he.Process != process {
			t.Errorf("the ExitError does not carry the watchdog's finding: %v", ee)
		}
	}
}

// cancelScenarios: cancel the ctx at each start-up stage, and in the middle of the two long
// ones; the rollback must be complete.
var cancelScenarios = []scenario{
	{name: "cancel at stage check", shared: true, f: cancelAt(rootless.StageCheck)},
	{name: "cancel at stage prepare", shared: true, f: cancelAt(rootless.StagePrepare)},
	{name: "cancel at stage namespaces", f: cancelAt(rootless.StageNamespaces)},
	{name: "cancel at stage dockerd", f: cancelAt(rootless.StageDockerd)},
	{name: "cancel while RootlessKit starts the network", f: cancelWhen("slirp4netns")},
	{name: "cancel while dockerd starts", f: cancelWhen("dockerd")},
}

// cancelAt cancels as stage s begins.
func cancelAt(s rootless.Stage) func(t *testing.T, fx *fixture, row *faultRow) {
	return func(t *testing.T, fx *fixture, row *faultRow) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var at time.Time
		d, err := rootless.Launch(ctx, fx.opts(rootless.WithProgress(func(p rootless.Progress) {
			if p.Stage == s {
				at = time.Now()
				cancel()
			}
		}))...)
		checkCancelled(t, fx, row, d, err, at)
	}
}

// cancelWhen cancels once a process running the program called name appears.
func cancelWhen(name string) func(t *testing.T, fx *fixture, row *faultRow) {
	return func(t *testing.T, fx *fixture, row *faultRow) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var at time.Time
		seen := make(chan struct{})
		go func() {
			defer close(seen)
			for ctx.Err() == nil {
				for _, p := range mine(testbed.ProcessesOf(os.Getuid())) {
					if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID)); filepath.Base(exe) == name {
						at = time.Now()
						cancel()
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
		d, err := rootless.Launch(ctx, fx.opts()...)
		cancel()
		<-seen
		if at.IsZero() {
			if d != nil {
				d.Close()
			}
			t.Fatalf("no %s process appeared during the launch (%v)", name, err)
		}
		checkCancelled(t, fx, row, d, err, at)
	}
}

func checkCancelled(t *testing.T, fx *fixture, row *faultRow, d *rootless.Daemon, err error, at time.Time) {
	t.Helper()
	row.Detect, row.DetectWhat = time.Since(at), "from the cancel until Launch returned"
	if d != nil {
		d.Close()
		t.Fatal("Launch succeeded although its ctx was cancelled during it")
	}
	row.Seen = short(err)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Launch: %v, want context.Canceled", err)
	}
	if _, ok := errors.AsType[*rootless.StartError](err); !ok {
		t.Errorf("Launch: %v, want a *StartError naming the stage", err)
	}
	// The rollback is complete: the state directory holds nothing but its lock.
	if len(orphans(t, 20*time.Second)) == 0 {
		assertOnlyLock(t, fx.state)
	}
}
