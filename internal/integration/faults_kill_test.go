//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

// killScenarios: SIGKILL at steady state of each process of the tree in turn. The daemon must
// report each death with its cause (or survive it, where dockerd repairs the loss), and a
// relaunch on the same directories must work.
var killScenarios = []scenario{
	{name: "SIGKILL host program", f: killHost},
	{name: "SIGKILL engine helper", shared: true, f: killRole("helper", "the engine helper (RootlessKit's parent)")},
	{name: "SIGKILL RootlessKit child", shared: true, f: killRole("child", "RootlessKit's child")},
	{name: "SIGKILL network process", shared: true, f: killRole("network", "slirp4netns")},
	{name: "SIGKILL dockerd", f: killRole("dockerd", "dockerd")},
	{name: "SIGKILL host program (pasta)", f: killHostPasta},
	{name: "SIGKILL network process (pasta)", f: killPasta},
	{name: "SIGKILL containerd", f: killContainerd},
	{name: "SIGKILL containerd-shim", f: killShim},
}

// killHost: the host program dies by SIGKILL; the whole tree must die with it.
func killHost(t *testing.T, fx *fixture, row *faultRow) {
	h := startFaultHost(t, fx, 0)
	pids := below(h.pid)
	if len(pids) < 3 {
		t.Fatalf("the tree below the engine has %d processes (%v); the kill would prove nothing", len(pids), pids)
	}
	start := time.Now()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.done
	for len(mine(testbed.ProcessesOf(os.Getuid()))) > 0 && time.Since(start) < 20*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	row.Detect, row.DetectWhat = time.Since(start), "until no process was left"
	row.Seen = fmt.Sprintf("the tree (%d processes) died with its host program", len(pids)+1)
}

// killRole kills the process of role (helper: the engine process itself) and expects Done
// with an ExitError that names process and SIGKILL.
func killRole(role, process string) func(t *testing.T, fx *fixture, row *faultRow) {
	return func(t *testing.T, fx *fixture, row *faultRow) {
		d, _ := launchLogged(t, fx.opts(rootless.WithWatchdog(rootless.Watchdog{Interval: time.Second, Timeout: 2 * time.Second}))...)
		pid := d.PID()
		if role != "helper" {
			pid = onePID(t, d, role)
		}
		start := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		unhealthy := time.Duration(0)
		if role == "network" { // the daemon stays up until the watchdog acts
			awaitHealth(t, d, time.Minute, func(h rootless.Health) bool { return h.State == rootless.Unhealthy })
			unhealthy = time.Since(start)
		}
		await(t, d.Done(), time.Minute, "Done after SIGKILL of "+process)
		row.Detect, row.DetectWhat = time.Since(start), "until Done"
		if unhealthy > 0 {
			row.DetectWhat = fmt.Sprintf("until Done; unhealthy after %v", unhealthy.Round(time.Millisecond))
		}
		ee := exitOf(t, d)
		row.Seen = short(ee)
		if ee.Process != process || ee.Signal != syscall.SIGKILL || ee.Code != 128+9 {
			t.Errorf("ExitError names %q, signal %v, code %d; want %q killed by SIGKILL (137): %v", ee.Process, ee.Signal, ee.Code, process, ee)
		}
		if role == "network" {
			he, ok := errors.AsType[*rootless.HealthError](ee)
			if !ok || he.Check != rootless.CheckProcess || he.PID != pid {
				t.Errorf("the ExitError does not carry the watchdog's finding on pid %d: %v", pid, ee.Err)
			}
		}
	}
}

// killContainerd: dockerd restarts its containerd; the daemon goes on serving.
func killContainerd(t *testing.T, fx *fixture, row *faultRow) {
	d, _ := launchLogged(t, fx.opts()...)
	old := onePID(t, d, "containerd")
	start := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var now int
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p := treePIDs(t, d)["containerd"]; len(p) == 1 && p[0] != old {
			now = p[0]
			break
		}
	}
	if now == 0 {
		t.Fatalf("dockerd did not start a new containerd within a minute (%v)", treePIDs(t, d))
	}
	row.Detect, row.DetectWhat = time.Since(start), "until dockerd ran a new containerd"
	cli := testbed.Client(t, d.Host())
	if _, err := cli.ContainerList(t.Context(), container.ListOptions{All: true}); err != nil {
		t.Errorf("docker ps -a after containerd's restart: %v", err)
	}
	select {
	case <-d.Done():
		t.Fatalf("the daemon ended: %v", d.Err())
	default:
	}
	row.Seen = fmt.Sprintf("the daemon stayed up: dockerd restarted containerd (pid %d, then %d)", old, now)
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

// killShim: the container of the killed shim dies; the daemon goes on serving.
func killShim(t *testing.T, fx *fixture, row *faultRow) {
	d, _ := launchLogged(t, fx.opts()...)
	cli := testbed.Client(t, d.Host())
	ctx := t.Context()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: fx.bed.ImageTag, Cmd: []string{"sh", "-c", "sleep 600 & wait"}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	shim := onePID(t, d, "shim")
	start := time.Now()
	if err := syscall.Kill(shim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		row.Seen = fmt.Sprintf("the daemon stayed up; the shim's container exited with %d", w.StatusCode)
	case err := <-errC:
		t.Fatalf("wait for the container: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the container still runs a minute after its shim was killed")
	}
	row.Detect, row.DetectWhat = time.Since(start), "until dockerd reported the container exited"
	if _, err := cli.Ping(ctx); err != nil {
		t.Errorf("the daemon stopped answering: %v", err)
	}
	if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
		t.Errorf("remove the container: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
	if strings.Contains(row.Seen, "exited with 0") {
		t.Errorf("%s: a killed shim cannot end its container cleanly", row.Seen)
	}
}

// killHostPasta: pasta daemonizes out of the tree, so the tree's parent-death signals do not
// reach it; the engine's helper removes the network namespace's file as its owner dies, and
// pasta quits. (With detach-netns on the current stack; the distro stack's dockerd cannot
// detach, and pasta follows RootlessKit's child by its pid.)
func killHostPasta(t *testing.T, fx *fixture, row *faultRow) {
	dir, why := pastaFor(t, fx)
	if why != "" {
		row.Seen = "n/a: " + why
		return
	}
	h := startFaultHostWith(t, faultHostConfig{Bin: fx.stack.Bin, StateDir: fx.state, DataRoot: fx.data, Pasta: dir})
	pasta := pastaOf(t, fx.state)
	start := time.Now()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.done
	for len(mine(testbed.ProcessesOf(os.Getuid()))) > 0 && time.Since(start) < 20*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	row.Detect, row.DetectWhat = time.Since(start), "until no process was left"
	row.Seen = fmt.Sprintf("the tree and the daemonized pasta (pid %d) died with the host program", pasta)
}

// killPasta: the watchdog finds the daemonized pasta and sees it die.
func killPasta(t *testing.T, fx *fixture, row *faultRow) {
	dir, why := pastaFor(t, fx)
	if why != "" {
		row.Seen = "n/a: " + why
		return
	}
	d, _ := launchLogged(t, fx.opts(rootless.WithNetwork(netdriver.Pasta{}), rootless.WithBinaries(rootless.Binaries{Path: []string{dir, fx.stack.Bin}}),
		rootless.WithWatchdog(rootless.Watchdog{Interval: time.Second, Timeout: 2 * time.Second}))...)
	pid := pastaOf(t, fx.state)
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	await(t, d.Done(), time.Minute, "Done after SIGKILL of pasta")
	row.Detect, row.DetectWhat = time.Since(start), "until Done"
	ee := exitOf(t, d)
	row.Seen = short(ee)
	if he, ok := errors.AsType[*rootless.HealthError](ee); !ok || he.Process != "pasta" || he.PID != pid {
		t.Errorf("the watchdog did not report pasta's death: %v", ee)
	}
}
