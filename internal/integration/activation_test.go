//go:build integration

package integration

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// activatorIdle is the tests' WithIdleStop: short, so that the idle stop comes soon.
const activatorIdle = 2 * time.Second

// serveActivator starts an Activator for stack on STATEDIR/activator.sock and stops it at
// cleanup, checking that Serve returned nil. It returns the activator and the socket.
func serveActivator(t testing.TB, bed *testbed.Bed, stack testbed.Stack, opts ...rootless.Option) (*rootless.Activator, string) {
	t.Helper()
	u := bed.Self()
	state := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
	out := &testbed.LockedBuffer{}
	a, err := rootless.NewActivator(append([]rootless.Option{rootless.WithStateDir(state),
		rootless.WithDataRoot(testbed.ScratchDir(t, bed, stack, u.Home)),
		rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}}),
		rootless.WithLogger(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(state, "activator.sock")
	ln, err := rootless.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("activator log:\n%s", out.String())
		}
	})
	return a, sock
}

// dockerCLI runs the stack's docker CLI (Debian's 20.10 one for distro) against sock.
func dockerCLI(t testing.TB, stack testbed.Stack, sock string, args ...string) (string, error) {
	cmd := exec.CommandContext(t.Context(), stack.Binary("docker"), append([]string{"-H", "unix://" + sock}, args...)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// waitFor polls cond until it holds or the time box ends (a bound on a wait, not a timing).
func waitFor(t testing.TB, what string, box time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(box)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, box)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestActivation, on each stack: the socket exists before the daemon; four `docker version`
// run at once on the cold socket and all get the server's answer from one start; a running
// container keeps the daemon from the idle stop; without it the daemon stops, leaving no
// process; and the next connection starts it again with the image kept.
func TestActivation(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			a, sock := serveActivator(t, bed, stack, rootless.WithIdleStop(activatorIdle))
			if a.Daemon() != nil || len(testbed.ProcessesOf(bed.Self().UID)) > 0 {
				t.Fatal("a daemon runs before any connection")
			}
			var wg sync.WaitGroup
			outs := make([]string, 4)
			errs := make([]error, len(outs))
			for i := range outs {
				wg.Go(func() { outs[i], errs[i] = dockerCLI(t, stack, sock, "version", "--format", "{{.Server.Version}}") })
			}
			wg.Wait()
			d := a.Daemon()
			if d == nil {
				t.Fatal("no daemon after the first connections")
			}
			for i := range outs {
				if errs[i] != nil || outs[i] != d.Info().ServerVersion {
					t.Errorf("docker version %d on the cold socket: %v: %q, want server %q", i, errs[i], outs[i], d.Info().ServerVersion)
				}
			}
			if n := a.Starts(); n != 1 {
				t.Errorf("%d starts for concurrent first connections, want 1", n)
			}

			cli, err := client.NewClientWithOpts(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
			if err != nil {
				t.Fatal(err)
			}
			testbed.LoadImage(t, cli, bed) // a large upload through the splice
			c, err := cli.ContainerCreate(t.Context(), &container.Config{Image: bed.ImageTag, Cmd: []string{"sleep", "600"}}, nil, nil, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := cli.ContainerStart(t.Context(), c.ID, container.StartOptions{}); err != nil {
				t.Fatal(err)
			}
			cli.Close() // no connection open: only the container keeps it from idling
			time.Sleep(3 * activatorIdle)
			if n := a.IdleStops(); n != 0 || a.Daemon() == nil {
				t.Fatalf("the daemon was stopped as idle (%d) with a running container", n)
			}
			if out, err := dockerCLI(t, stack, sock, "rm", "-f", c.ID); err != nil {
				t.Fatalf("docker rm: %v: %s", err, out)
			}
			waitFor(t, "the idle stop", 2*time.Minute, func() bool { return a.IdleStops() == 1 && a.Daemon() == nil })
			testbed.AssertNoProcesses(t, 10*time.Second)

			out, err := dockerCLI(t, stack, sock, "image", "inspect", "--format", "{{.Id}}", bed.ImageTag)
			if err != nil {
				t.Fatalf("docker image inspect after the idle stop: %v: %s", err, out)
			}
			if n := a.Starts(); n != 2 || a.Daemon() == nil {
				t.Errorf("%d starts after the idle stop and a new connection, want 2", n)
			}
		})
	}
}
