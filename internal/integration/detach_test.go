//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// attachProcess is the host program in attach mode: it attaches to the daemon of the state
// dir, pings it, prints "ATTACHED <server version> <pid>" and lets go.
func attachProcess(hc hostConfig) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := rootless.Attach(ctx, rootless.WithStateDir(hc.StateDir))
	if err != nil {
		fmt.Println("ERROR", strings.ReplaceAll(err.Error(), "\n", " | "))
		return 1
	}
	cli, err := d.Client()
	if err == nil {
		_, err = cli.Ping(ctx)
		cli.Close()
	}
	if err != nil {
		fmt.Println("ERROR ping:", err)
		return 1
	}
	fmt.Println("ATTACHED", d.Info().ServerVersion, d.PID())
	if err := d.Close(); err != nil {
		fmt.Println("ERROR close:", err)
		return 1
	}
	return 0
}

// hostCommand is the host program (hostProcess) for hc, started; its stdout lines arrive on
// the channel, which closes when it exits.
func hostCommand(t *testing.T, hc hostConfig) (*exec.Cmd, <-chan string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(hc)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envHost+"="+string(raw))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines
}

// hostLine waits for the host program's first line other than a STAGE line (READY, ATTACHED
// or ERROR).
func hostLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	return hostLineWith(t, lines, "")
}

// hostLineWith waits for the host program's first line that starts with prefix, or any line
// but a STAGE one with prefix "".
func hostLineWith(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	timeout := time.After(3 * time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the host program exited without a word")
			}
			if strings.HasPrefix(l, "ERROR") || prefix == "" && !strings.HasPrefix(l, "STAGE ") || prefix != "" && strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatal("the host program said nothing for 3 minutes")
		}
	}
}

// TestDetachedDaemon, on each stack: a daemon launched WithDetach survives its launcher's Close
// and then its SIGKILL; two processes attach at once; the test process attaches, runs a
// container and enters the namespaces; Shutdown from the attaching process leaves nothing
// behind; and afterwards Attach refuses the dead state directory, its record put back, also
// when the recorded pid is reused by a live process.
func TestDetachedDaemon(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			u := bed.Self()
			state := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
			data := testbed.ScratchDir(t, bed, stack, u.Home)
			host, lines := hostCommand(t, hostConfig{Bin: stack.Bin, StateDir: state, DataRoot: data, Detach: true})
			if l := hostLine(t, lines); !strings.HasPrefix(l, "READY ") {
				t.Fatalf("launcher: %s", l)
			}
			if err := host.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = host.Wait()

			// Two processes attach at once.
			var wg sync.WaitGroup
			got := make([]string, 2)
			for i := range got {
				cmd, l := hostCommand(t, hostConfig{StateDir: state, Attach: true})
				wg.Go(func() {
					got[i] = hostLine(t, l)
					for range l { // to its exit, then reap it
					}
					_ = cmd.Wait()
				})
			}
			wg.Wait()
			for i, l := range got {
				if !strings.HasPrefix(l, "ATTACHED ") {
					t.Errorf("attacher %d: %s", i, l)
				}
			}

			d, err := rootless.Attach(t.Context(), rootless.WithStateDir(state))
			if err != nil {
				t.Fatalf("Attach after the launcher was killed: %v", err)
			}
			info := d.Info()
			if info.Paths.DataRoot != data || info.ServerVersion == "" || info.ChildPID <= 0 || info.Network == nil {
				t.Errorf("attached Info: data root %q, server %q, child %d, network %v", info.Paths.DataRoot, info.ServerVersion, info.ChildPID, info.Network)
			}
			cli := testbed.Client(t, d.Host())
			testbed.LoadImage(t, cli, bed)
			if code, out := testbed.RunOnce(t, cli, bed, nil, "echo", "attached"); code != 0 || !strings.Contains(out, "attached") {
				t.Errorf("container through the attached daemon: exit %d, output %q", code, out)
			}
			if _, err := d.Ports().List(t.Context()); err != nil {
				t.Errorf("Ports().List through RootlessKit's API: %v", err)
			}
			if out, err := d.Command(t.Context(), "id", "-u").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "0" {
				t.Errorf("Command id -u: %v %q", err, out)
			}
			rec, err := os.ReadFile(filepath.Join(state, "rootlessd.json"))
			if err != nil {
				t.Fatal(err)
			}

			// A second attachment sees the daemon die (it did not stop it) through Done and Err.
			other, err := rootless.Attach(t.Context(), rootless.WithStateDir(state))
			if err != nil {
				t.Fatalf("second Attach: %v", err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if err := d.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown from the attaching process: %v", err)
			}
			<-d.Done()
			if err := d.Err(); err != nil {
				t.Errorf("Err after Shutdown: %v", err)
			}
			select {
			case <-other.Done():
			case <-time.After(time.Minute):
				t.Fatal("the other attachment's Done is not closed a minute after the daemon stopped")
			}
			if ee, ok := errors.AsType[*rootless.ExitError](other.Err()); !ok || len(ee.Log) == 0 {
				t.Errorf("the other attachment's Err = %v, want an *ExitError with the log's last lines", other.Err())
			}
			testbed.AssertNoProcesses(t, 10*time.Second)
			for _, f := range []string{"rootlessd.json", "docker.sock", "docker.pid"} {
				if _, err := os.Lstat(filepath.Join(state, f)); err == nil {
					t.Errorf("%s left in the state directory after Shutdown", f)
				}
			}
			if log, err := os.ReadFile(filepath.Join(state, "daemon.log")); err != nil || !strings.Contains(string(log), "API listen on") {
				t.Errorf("daemon.log (%v) lacks dockerd's output:\n%.2000s", err, log)
			}

			assertNotRunning := func(what string) {
				t.Helper()
				if _, err := rootless.Attach(t.Context(), rootless.WithStateDir(state)); !errors.Is(err, rootless.ErrNotRunning) {
					t.Errorf("Attach to %s: %v, want ErrNotRunning", what, err)
				} else {
					t.Logf("%s: %v", what, err)
				}
			}
			assertNotRunning("a stopped daemon's state directory")
			write := func(b []byte) {
				if err := os.WriteFile(filepath.Join(state, "rootlessd.json"), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write(rec)
			assertNotRunning("a dead daemon's record")
			// The recorded pid reused: a live process of ours with that pid is out of reach, so
			// the record is made to name one (a sleep), once with the dead daemon's start time,
			// once with the sleep's own (then the state dir's lock, free, gives it away).
			sleep := exec.Command("sleep", "300")
			if err := sleep.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
			var m map[string]any
			_ = json.Unmarshal(rec, &m)
			m["pid"] = sleep.Process.Pid
			b, _ := json.Marshal(m)
			write(b)
			assertNotRunning("a record whose pid now belongs to another process")
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", sleep.Process.Pid))
			f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			m["start_time"] = json.Number(f[19])
			b, _ = json.Marshal(m)
			write(b)
			assertNotRunning("a record naming a live process with its own start time")
		})
	}
}

// TestDetachedLauncherKilledDuringStartup: a launcher killed while dockerd starts leaves a
// detached daemon that Attach waits for and takes over, and whose Shutdown leaves nothing.
func TestDetachedLauncherKilledDuringStartup(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			u := bed.Self()
			state := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
			host, lines := hostCommand(t, hostConfig{Bin: stack.Bin, StateDir: state, DataRoot: testbed.ScratchDir(t, bed, stack, u.Home), Detach: true})
			if l := hostLineWith(t, lines, "STAGE dockerd"); l != "STAGE dockerd" {
				t.Fatalf("launcher: %s", l)
			}
			if err := host.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = host.Wait()
			d, err := rootless.Attach(t.Context(), rootless.WithStateDir(state))
			if err != nil {
				t.Fatalf("Attach to the daemon whose launcher died during start-up: %v", err)
			}
			if d.Info().ServerVersion == "" || d.Info().ChildPID <= 0 {
				t.Errorf("Info: server %q, child %d", d.Info().ServerVersion, d.Info().ChildPID)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if err := d.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			testbed.AssertNoProcesses(t, 10*time.Second)
		})
	}
}
