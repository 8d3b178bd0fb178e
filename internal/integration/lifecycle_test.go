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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// envHost makes this test binary act as a host program (TestMain dispatches it to hostProcess):
// it launches a daemon from the JSON config in the variable, prints "READY <DOCKER_HOST>" and
// waits to be killed.
const envHost = "ROOTLESSD_IT_HOST"

type hostConfig struct {
	Bin, StateDir, DataRoot string
	Detach, Attach          bool // detach_test.go: launch WithDetach and Close, or only attach
}

// hostProcess is the host program that other tests start and kill; TestMain runs it instead
// of the tests when envHost is set.
func hostProcess(raw string) int {
	var hc hostConfig
	if err := json.Unmarshal([]byte(raw), &hc); err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	if hc.Attach {
		return attachProcess(hc)
	}
	d, err := rootless.Launch(context.Background(), rootless.WithDetach(hc.Detach), rootless.WithProgress(func(p rootless.Progress) {
		fmt.Println("STAGE", p.Stage) // detach_test.go kills it at a stage
	}),
		rootless.WithStateDir(hc.StateDir), rootless.WithDataRoot(hc.DataRoot),
		rootless.WithBinaries(rootless.Binaries{Path: []string{hc.Bin}}))
	if err != nil {
		fmt.Println("ERROR", strings.ReplaceAll(err.Error(), "\n", " | "))
		return 1
	}
	if hc.Detach {
		if err := d.Close(); err != nil { // lets go: the daemon runs on
			fmt.Println("ERROR close:", err)
			return 1
		}
	}
	fmt.Println("READY", d.Host())
	select {} // until killed
}

// startHost runs the test binary as a host program that launches a daemon; it returns the
// process and the daemon's DOCKER_HOST.
func startHost(t *testing.T, stack testbed.Stack, state, data string) (*exec.Cmd, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(hostConfig{Bin: stack.Bin, StateDir: state, DataRoot: data})
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
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if host, ok := strings.CutPrefix(line, "READY "); ok {
			go func() { // drain
				for sc.Scan() {
				}
			}()
			return cmd, host
		}
		if strings.HasPrefix(line, "ERROR") {
			t.Fatalf("host program: %s", line)
		}
	}
	t.Fatalf("host program exited before the daemon was ready: %v", sc.Err())
	return nil, ""
}

// TestKillHostLeavesNothing kills the host program with SIGKILL while its daemon runs a
// container, and expects the whole tree (RootlessKit, slirp4netns, dockerd, containerd, the
// shim and the container) to die with it. A relaunch on the same state directory and data root
// then works (the killed daemon's files are stale and get removed) and still has the image.
func TestKillHostLeavesNothing(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			u := bed.Self()
			state := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
			data := testbed.ScratchDir(t, bed, stack, u.Home)
			host, dockerHost := startHost(t, stack, state, data)
			cli := testbed.Client(t, dockerHost)
			testbed.LoadImage(t, cli, bed)
			port := testbed.FreePort(t)
			testbed.RunProbe(t, cli, bed, port, 80)
			testbed.Get(t, fmt.Sprintf("http://127.0.0.1:%d/", port), time.Minute)

			if err := host.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = host.Wait()
			testbed.AssertNoProcesses(t, 10*time.Second)

			d := launch(t, bed, stack, rootless.WithStateDir(state), rootless.WithDataRoot(data))
			cli = testbed.Client(t, d.Host())
			if _, err := cli.ImageInspect(t.Context(), bed.ImageTag); err != nil {
				t.Fatalf("relaunch on the same data root lost the image: %v", err)
			}
		})
	}
}

// TestTwoDaemons runs two daemons of one user at once, each serving a container.
func TestTwoDaemons(t *testing.T) {
	bed := testbed.Require(t)
	stack, _ := bed.Stack("current")
	d1 := launch(t, bed, stack)
	d2 := launch(t, bed, stack)
	if d1.Host() == d2.Host() {
		t.Fatalf("both daemons on %s", d1.Host())
	}
	for _, d := range []*rootless.Daemon{d1, d2} {
		testbed.ServeProbe(t, bed, d.Host())
	}
}

// TestAlreadyRunning: a second Launch on a state directory or data root in use fails with
// ErrAlreadyRunning and disturbs nothing.
func TestAlreadyRunning(t *testing.T) {
	bed := testbed.Require(t)
	stack, _ := bed.Stack("current")
	d := launch(t, bed, stack)
	info := d.Info()
	for name, opt := range map[string]rootless.Option{
		"state dir": rootless.WithStateDir(info.Paths.StateDir),
		"data root": rootless.WithDataRoot(info.Paths.DataRoot),
	} {
		u := bed.Self()
		opts := []rootless.Option{
			rootless.WithStateDir(testbed.ScratchDir(t, bed, stack, u.RuntimeDir)),
			rootless.WithDataRoot(testbed.ScratchDir(t, bed, stack, u.Home)),
			rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}}), opt,
		}
		_, err := rootless.Launch(t.Context(), opts...)
		if !errors.Is(err, rootless.ErrAlreadyRunning) {
			t.Errorf("second Launch on the same %s: %v, want ErrAlreadyRunning", name, err)
		}
	}
	cli := testbed.Client(t, d.Host())
	if _, err := cli.Ping(t.Context()); err != nil {
		t.Fatalf("the first daemon was disturbed: %v", err)
	}
}

// TestStartErrorFailsFast: dockerd rejects its arguments; Launch returns a StartError at stage
// dockerd with dockerd's message because the tree exited, not because a wait ran out (the ctx
// has a deadline that would show as DeadlineExceeded), and leaves nothing behind.
func TestStartErrorFailsFast(t *testing.T) {
	bed := testbed.Require(t)
	stack, _ := bed.Stack("current")
	u := bed.Self()
	state := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	_, err := rootless.Launch(ctx,
		rootless.WithStateDir(state),
		rootless.WithDataRoot(testbed.ScratchDir(t, bed, stack, u.Home)),
		rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}}),
		rootless.WithDockerdArgs("--no-such-flag"))
	se, ok := errors.AsType[*rootless.StartError](err)
	if !ok {
		t.Fatalf("Launch: %v, want a *StartError", err)
	}
	if se.Stage != rootless.StageDockerd || !slices.ContainsFunc(se.Log, func(l string) bool { return strings.Contains(l, "no-such-flag") }) {
		t.Errorf("StartError at %s with log %q; want stage dockerd and dockerd's complaint", se.Stage, se.Log)
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || !strings.Contains(se.Err.Error(), "process tree exited") {
		t.Errorf("Launch returned %v (ctx: %v); want it to return because the tree exited, not after waiting", se.Err, ctx.Err())
	}
	testbed.AssertNoProcesses(t, 10*time.Second)
	assertOnlyLock(t, state)
}

// TestUnexpectedExit: dockerd dies under a running daemon; Done closes and Err is an ExitError.
func TestUnexpectedExit(t *testing.T) {
	bed := testbed.Require(t)
	stack, _ := bed.Stack("current")
	d := launch(t, bed, stack)
	pid := findProcess(t, d.Info().Dockerd.Path)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done not closed 30s after dockerd was killed")
	}
	ee, ok := errors.AsType[*rootless.ExitError](d.Err())
	if !ok || ee.Code == 0 {
		t.Fatalf("Err = %v, want an *ExitError with a non-zero code", d.Err())
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close after exit: %v", err)
	}
	testbed.AssertNoProcesses(t, 10*time.Second)
}

// TestCancelDuringStartup: cancelling ctx while dockerd starts (once the engine runs, while the
// probes' checks may still be under way) rolls everything back and returns a *StartError of the
// cancel at that stage.
func TestCancelDuringStartup(t *testing.T) {
	bed := testbed.Require(t)
	stack, _ := bed.Stack("current")
	u := bed.Self()
	state := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := rootless.Launch(ctx,
		rootless.WithStateDir(state),
		rootless.WithDataRoot(testbed.ScratchDir(t, bed, stack, u.Home)),
		rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}}),
		rootless.WithProgress(func(p rootless.Progress) {
			if p.Stage == rootless.StageDockerd {
				cancel()
			}
		}))
	se, ok := errors.AsType[*rootless.StartError](err)
	if !ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("Launch: %v; want a *StartError of the cancel", err)
	}
	if se.Stage != rootless.StageDockerd {
		t.Errorf("StartError at stage %s, want %s", se.Stage, rootless.StageDockerd)
	}
	testbed.AssertNoProcesses(t, 10*time.Second)
	assertOnlyLock(t, state)
}

// TestShutdownLeavesNothing: after Close no process, no mount and no runtime file remains.
func TestShutdownLeavesNothing(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			d := launch(t, bed, stack)
			cli := testbed.Client(t, d.Host())
			testbed.LoadImage(t, cli, bed)
			testbed.RunProbe(t, cli, bed, testbed.FreePort(t), 80) // a running container at shutdown
			// The daemon's mounts live in RootlessKit's mount namespace, not in ours: look there
			// while it runs (the container's root file system is mounted under the data root),
			// and remember the namespace.
			child := strconv.Itoa(d.Info().ChildPID)
			mntNS, err := os.Readlink("/proc/" + child + "/ns/mnt")
			if err != nil {
				t.Fatal(err)
			}
			inside, _ := os.ReadFile("/proc/" + child + "/mountinfo")
			if !strings.Contains(string(inside), d.Info().Paths.DataRoot) {
				t.Fatalf("no mount under the data root %s in the daemon's mount namespace: the check below would see nothing", d.Info().Paths.DataRoot)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			testbed.AssertNoProcesses(t, 10*time.Second)
			assertOnlyLock(t, d.Info().Paths.StateDir)
			// Nothing holds the daemon's mount namespace any more (it and its mounts are gone), and
			// none of its mounts leaked into ours.
			if holders := testbed.NamespaceHolders(mntNS); len(holders) > 0 {
				t.Errorf("the daemon's mount namespace %s is still held by %v", mntNS, holders)
			}
			mounts, _ := os.ReadFile("/proc/self/mountinfo")
			for _, p := range []string{d.Info().Paths.StateDir, d.Info().Paths.DataRoot} {
				if strings.Contains(string(mounts), p) {
					t.Errorf("a mount under %s is left in the host's mount table", p)
				}
			}
		})
	}
}

// TestCommandEntersNamespaces runs programs in the daemon's namespaces, as the setuptool's
// nsenter does, for a state directory of our choosing.
func TestCommandEntersNamespaces(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			d := launch(t, bed, stack)
			out, err := d.Command(t.Context(), "sh", "-c", "id -u; echo state=$ROOTLESSKIT_STATE_DIR; ip -o link").CombinedOutput()
			if err != nil {
				t.Fatalf("Command: %v\n%s", err, out)
			}
			s := string(out)
			if !strings.HasPrefix(s, "0\n") || !strings.Contains(s, "state="+d.Info().Paths.RootlessKitStateDir+"\n") {
				t.Errorf("not root in the namespace or ROOTLESSKIT_STATE_DIR missing:\n%s", s)
			}
			if !strings.Contains(s, "tap0") {
				t.Errorf("the containers' network namespace (with tap0) was not entered:\n%s", s)
			}
		})
	}
}

// TestRemoveAllSubidFiles: a container leaves a file owned by a subordinate id in a bind
// mount; os.RemoveAll cannot delete it, rootless.RemoveAll can.
func TestRemoveAllSubidFiles(t *testing.T) {
	bed := testbed.Require(t)
	stack, _ := bed.Stack("current")
	d := launch(t, bed, stack)
	cli := testbed.Client(t, d.Host())
	testbed.LoadImage(t, cli, bed)
	dir := filepath.Join(bed.Self().Home, fmt.Sprintf("rm-%d", time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testbed.RemoveAll(t, stack, dir) })
	ctx := t.Context()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: bed.ImageTag,
		Cmd: []string{"sh", "-c", "mkdir -p /w/sub && touch /w/sub/f && chown -R 1000:1000 /w/sub && chmod 0700 /w/sub"}},
		&container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: dir, Target: "/w"}}}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		if w.StatusCode != 0 {
			t.Fatalf("container exited %d", w.StatusCode)
		}
	case err := <-errC:
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err == nil {
		t.Fatal("os.RemoveAll removed a directory owned by a subordinate id; the test proves nothing")
	}
	if err := rootless.RemoveAll(ctx, dir, rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}})); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists: %v", dir, err)
	}
}

// TestExternalEngine runs each stack's own rootlesskit binary (1.1 on distro, 3.x on current)
// with the flags its version knows.
func TestExternalEngine(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			d := launch(t, bed, stack, rootless.WithEngine(rootless.EngineExternal))
			info := d.Info()
			if info.Engine != rootless.EngineExternal || info.RootlessKit.Path == "" {
				t.Fatalf("engine %s (%q), want external", info.Engine, info.RootlessKit.Path)
			}
			testbed.ServeProbe(t, bed, d.Host())
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			testbed.AssertNoProcesses(t, 10*time.Second)
		})
	}
}

// assertOnlyLock fails t unless the state directory holds nothing but rootlessd's lock file.
func assertOnlyLock(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "rootlessd.lock" {
			t.Errorf("%s left in the state directory", filepath.Join(dir, e.Name()))
		}
	}
}

// findProcess returns the pid of this user's process whose executable is exe.
func findProcess(t *testing.T, exe string) int {
	t.Helper()
	want, _ := filepath.EvalSymlinks(exe)
	for _, p := range testbed.ProcessesOf(os.Getuid()) {
		if got, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID)); err == nil && got == want {
			return p.PID
		}
	}
	t.Fatalf("no process runs %s", exe)
	return 0
}
