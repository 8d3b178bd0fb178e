//go:build guest

package guest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// debianStack is the guest's engine stack: Debian 13's docker.io and rootlesskit (hack/vm/build).
const debianStack = "debian13"

// packagedRootlessKit is the rootlesskit that Debian's AppArmor profile "rootlesskit" is for.
const packagedRootlessKit = "/usr/bin/rootlesskit"

func stack(t *testing.T, bed *testbed.Bed) testbed.Stack {
	t.Helper()
	s, ok := bed.Stack(debianStack)
	if !ok {
		t.Fatalf("the guest's test bed has no stack %q: %v", debianStack, bed.Stacks)
	}
	return s
}

// launch starts a daemon with private state and data dirs, from the guest's own $PATH (so the
// external engine is /usr/bin/rootlesskit), and closes it at cleanup. The daemon's log is shown
// only if the test fails.
func launch(t *testing.T, bed *testbed.Bed, opts ...rootless.Option) *rootless.Daemon {
	t.Helper()
	d, log, err := tryLaunch(t, bed, opts...)
	if err != nil {
		t.Fatalf("Launch: %v\nlog:\n%s", err, log)
	}
	return d
}

// tryLaunch is launch for a test that expects Launch to fail: it returns the error and the log.
func tryLaunch(t *testing.T, bed *testbed.Bed, opts ...rootless.Option) (*rootless.Daemon, *testbed.LockedBuffer, error) {
	t.Helper()
	u := bed.Self()
	st := stack(t, bed)
	out := &testbed.LockedBuffer{}
	base := []rootless.Option{
		rootless.WithStateDir(testbed.ScratchDir(t, bed, st, u.RuntimeDir)),
		rootless.WithDataRoot(testbed.ScratchDir(t, bed, st, u.Home)),
		rootless.WithLogger(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	start := time.Now()
	d, err := rootless.Launch(t.Context(), append(base, opts...)...)
	if err != nil {
		return nil, out, err
	}
	i := d.Info()
	t.Logf("Launch ready in %v: engine=%s fellBack=%v %s net=%s port=%s dockerd=%s cgroup=%s pidns=%v",
		time.Since(start).Round(time.Millisecond), i.Engine, i.FellBack, i.RootlessKit,
		i.Network.Name(), i.Port.Name(), i.Dockerd.Version, i.CgroupDriver, i.PIDNamespace)
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", out.String())
		}
	})
	return d, out, nil
}

// ran is a finished container.
type ran struct {
	code     int
	out      string
	oom      bool
	warnings []string
}

// run runs cmd in a container of the test image with hc, waits for it, and removes it.
func run(t *testing.T, cli *client.Client, bed *testbed.Bed, hc *container.HostConfig, cmd ...string) ran {
	t.Helper()
	ctx := t.Context()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: bed.ImageTag, Cmd: cmd}, hc, nil, nil, "")
	if err != nil {
		t.Fatalf("create container %v: %v", cmd, err)
	}
	defer cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start container %v: %v", cmd, err)
	}
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	r := ran{warnings: c.Warnings}
	select {
	case w := <-waitC:
		r.code = int(w.StatusCode)
	case err := <-errC:
		t.Fatalf("wait for container %v: %v", cmd, err)
	}
	insp, err := cli.ContainerInspect(ctx, c.ID)
	if err != nil {
		t.Fatalf("inspect container: %v", err)
	}
	r.oom = insp.State.OOMKilled
	logs, err := cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("container logs: %v", err)
	}
	defer logs.Close()
	raw, _ := io.ReadAll(logs)
	r.out = demux(raw)
	return r
}

// demux strips the 8-byte stream headers of a non-TTY container's log stream.
func demux(b []byte) string {
	var out strings.Builder
	for len(b) >= 8 {
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		b = b[8:]
		n = min(n, len(b))
		out.Write(b[:n])
		b = b[n:]
	}
	return out.String()
}

// output runs a program of the guest and returns its trimmed output; it fails t if it fails.
func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	var b bytes.Buffer
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b.String())
	}
	return strings.TrimSpace(b.String())
}

// readFile returns a file's trimmed content; it fails t if the file cannot be read.
func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// apparmorLabel is this process's AppArmor label, e.g. "rootlessd-guest-test (enforce)".
func apparmorLabel(t *testing.T) string {
	t.Helper()
	return readFile(t, "/proc/self/attr/current")
}

// check runs rootless.Check with opts, logs every finding, and fails t if it could not run.
func check(t *testing.T, opts ...rootless.Option) *rootless.Report {
	t.Helper()
	rep, err := rootless.Check(t.Context(), opts...)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	for _, f := range rep.Findings {
		t.Logf("Check: %s %s: %s (evidence: %s)", f.Severity, f.ID, f.Detail, f.Evidence)
	}
	return rep
}

// finding is the report's finding id, or nil.
func finding(rep *rootless.Report, id diag.ID) *diag.Finding {
	for _, f := range rep.Findings {
		if f.ID == id {
			return f
		}
	}
	return nil
}

func userBus() string { return fmt.Sprintf("unix:path=/run/user/%d/bus", os.Getuid()) }
