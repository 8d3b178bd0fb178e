//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

// launch starts a daemon of stack with private state and data dirs and closes it at cleanup.
// The daemon's output is logged only if the test fails.
func launch(t *testing.T, bed *testbed.Bed, stack testbed.Stack, opts ...rootless.Option) *rootless.Daemon {
	t.Helper()
	u := bed.Self()
	out := &testbed.LockedBuffer{}
	base := []rootless.Option{
		rootless.WithStateDir(testbed.ScratchDir(t, bed, stack, u.RuntimeDir)),
		rootless.WithDataRoot(testbed.ScratchDir(t, bed, stack, u.Home)),
		rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}}),
		rootless.WithLogger(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	var stages []string
	base = append(base, rootless.WithProgress(func(p rootless.Progress) {
		stages = append(stages, fmt.Sprintf("%s@%v", p.Stage, p.Elapsed.Round(time.Millisecond)))
	}))
	start := time.Now()
	d, err := rootless.Launch(t.Context(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("Launch (%s): %v\nlog:\n%s", stack.Name, err, out.String())
	}
	t.Logf("%s: stages %v", stack.Name, stages)
	t.Logf("%s: Launch ready in %v: engine=%s net=%s port=%s mtu=%d detach=%v dockerd=%s", stack.Name, time.Since(start),
		d.Info().Engine, d.Info().Network.Name(), d.Info().Port.Name(), d.Info().MTU, d.Info().DetachNetNS, d.Info().Dockerd.Version)
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", out.String())
		}
	})
	return d
}

// TestLaunch launches a daemon on each stack with the default choices, runs a container with a
// published port, GETs through it from the host, and shuts down leaving no process behind.
func TestLaunch(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			d := launch(t, bed, stack)
			testbed.AssertRootless(t, testbed.Client(t, d.Host())) // the daemon's own word, not Launch's
			if env := d.Env(); !slices.Contains(env, "DOCKER_HOST="+d.Host()) || d.SocketPath() != d.Info().Paths.Socket {
				t.Fatalf("Env %q / SocketPath %q do not name the daemon's socket %s", env, d.SocketPath(), d.Info().Paths.Socket)
			}
			testbed.ServeProbe(t, bed, d.Host())
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if err := d.Err(); err != nil {
				t.Errorf("Err after Close: %v", err)
			}
			testbed.AssertNoProcesses(t, 10*time.Second)
			if _, err := os.Stat(d.Info().Paths.Socket); !os.IsNotExist(err) {
				t.Errorf("socket %s left behind (%v)", d.Info().Paths.Socket, err)
			}
		})
	}
}

// TestLargeEnvironment (regression): a CI job's environment of 200 KiB reaches dockerd. The
// engine's configuration once travelled in one environment variable, which Linux limits to
// 128 KiB (E2BIG); it now travels in a private file.
func TestLargeEnvironment(t *testing.T) {
	bed := testbed.Require(t)
	stack, _ := bed.Stack("current")
	env := os.Environ()
	for i := range 200 {
		env = append(env, fmt.Sprintf("ROOTLESSD_BIG_%03d=%s", i, strings.Repeat("x", 1024)))
	}
	d := launch(t, bed, stack, rootless.WithEnviron(env))
	out, err := d.Command(t.Context(), "sh", "-c", "tr '\\0' '\\n' < /proc/$(cat "+d.Info().Paths.PIDFile+")/environ | grep -c ^ROOTLESSD_BIG_").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "200" {
		t.Fatalf("dockerd's environment has %q of the 200 variables (%v)", out, err)
	}
}

// TestLaunchDriverCombinations runs `docker run -p` and a GET through the published port for
// every network/port driver combination that works on this host, on both stacks.
func TestLaunchDriverCombinations(t *testing.T) {
	bed := testbed.Require(t)
	combos := []struct {
		net  netdriver.Driver
		port portdriver.Driver
	}{
		{netdriver.Slirp4netns{}, portdriver.Builtin{}},
		{netdriver.Slirp4netns{}, portdriver.Slirp4netns{}},
		{netdriver.GVisorTapVsock{}, portdriver.Builtin{}},
		{netdriver.GVisorTapVsock{}, portdriver.GVisorTapVsock{}},
	}
	for _, stack := range bed.Stacks {
		for _, c := range combos {
			t.Run(stack.Name+"/"+c.net.Name()+"+"+c.port.Name(), func(t *testing.T) {
				d := launch(t, bed, stack, rootless.WithNetwork(c.net), rootless.WithPortDriver(c.port))
				if got := d.Info(); got.Network.Name() != c.net.Name() || got.Port.Name() != c.port.Name() || got.MTU != 65520 {
					t.Fatalf("Info says %s+%s MTU %d, want %s+%s MTU 65520", got.Network.Name(), got.Port.Name(), got.MTU, c.net.Name(), c.port.Name())
				}
				testbed.ServeProbe(t, bed, d.Host())
			})
		}
	}
}

// TestPublishFromTheStart publishes a port through RootlessKit at launch (as for dockerd's own
// TCP API), on both engines: a container's port inside the namespace becomes reachable on a
// second host port that dockerd knows nothing about.
func TestPublishFromTheStart(t *testing.T) {
	bed := testbed.Require(t)
	stack, _ := bed.Stack("current")
	for _, eng := range []rootless.Engine{rootless.EngineEmbedded, rootless.EngineExternal} {
		t.Run(eng.String(), func(t *testing.T) {
			inner, outer := testbed.FreePort(t), testbed.FreePort(t)
			spec, err := portdriver.ParseSpec(fmt.Sprintf("127.0.0.1:%d:%d/tcp", outer, inner))
			if err != nil {
				t.Fatal(err)
			}
			d := launch(t, bed, stack, rootless.WithEngine(eng), rootless.WithPublish(spec))
			cli := testbed.Client(t, d.Host())
			testbed.LoadImage(t, cli, bed)
			testbed.RunProbe(t, cli, bed, inner, 80) // docker-proxy listens on inner inside the namespace
			if body := testbed.Get(t, fmt.Sprintf("http://127.0.0.1:%d/", outer), time.Minute); body != testbed.ProbeBody {
				t.Fatalf("GET through the port published at launch: %q", body)
			}
		})
	}
}

// TestLaunchRefusedByLateCheck (regression for the overlap of the checks with the engine's
// start): Launch starts the engine while the checks that read the namespace probes' answers
// finish. An error-level finding of one of them (here: the iptables probe, with an iptables
// that fails as a broken one does) still fails Launch with resolve's refusal, not a
// StartError, and leaves nothing running and nothing but the lock in the state directory.
func TestLaunchRefusedByLateCheck(t *testing.T) {
	bed := testbed.Require(t)
	stack, ok := bed.Stack("distro") // dockerd 20.10: the iptables backend, whose probe runs iptables
	if !ok {
		t.Skip("no distro stack")
	}
	u := bed.Self()
	fake := testbed.ScratchDir(t, bed, stack, u.Home)
	script := "#!/bin/sh\necho 'iptables v1.8.9 (nf_tables): broken on purpose by TestLaunchRefusedByLateCheck' >&2\nexit 4\n"
	if err := os.WriteFile(filepath.Join(fake, "iptables"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	state := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	d, err := rootless.Launch(ctx,
		rootless.WithStateDir(state),
		rootless.WithDataRoot(testbed.ScratchDir(t, bed, stack, u.Home)),
		rootless.WithBinaries(rootless.Binaries{Path: []string{fake, stack.Bin}}))
	if err == nil {
		d.Close()
		t.Fatal("Launch succeeded with an iptables that fails")
	}
	if _, ok := errors.AsType[*rootless.StartError](err); ok {
		t.Errorf("Launch: %v; want the host check's refusal, not a StartError", err)
	}
	if fs := diag.List(err); !slices.ContainsFunc(fs, func(f *diag.Finding) bool { return f.ID == rootless.IDIptablesUnusable }) {
		t.Errorf("Launch: %v; want the %s finding", err, rootless.IDIptablesUnusable)
	}
	testbed.AssertNoProcesses(t, 10*time.Second)
	assertOnlyLock(t, state)
}
