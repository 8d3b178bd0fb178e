//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// concurrencyScenarios: many Launch calls at once.
var concurrencyScenarios = []scenario{
	{name: "10 Launch on one state dir and data root", shared: true, f: launchSameDirs},
	{name: "concurrent Launch on different dirs", f: launchOwnDirs},
}

// launchSameDirs: exactly one of 10 wins; the others fail with ErrAlreadyRunning while the
// winner is still starting, i.e. without waiting for it.
func launchSameDirs(t *testing.T, fx *fixture, row *faultRow) {
	const n = 10
	type result struct {
		d    *rootless.Daemon
		err  error
		took time.Duration
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			d, err := rootless.Launch(t.Context(), fx.opts()...)
			results[i] = result{d, err, time.Since(t0)}
		})
	}
	close(start)
	wg.Wait()
	var winner *result
	var slowestLoser time.Duration
	for i := range results {
		r := &results[i]
		switch {
		case r.err == nil:
			if winner != nil {
				t.Errorf("two launches won on one state dir")
			}
			winner = r
			t.Cleanup(func() { r.d.Close() })
		case errors.Is(r.err, rootless.ErrAlreadyRunning):
			slowestLoser = max(slowestLoser, r.took)
			row.Seen = short(r.err)
		default:
			t.Errorf("launch %d: %v, want ErrAlreadyRunning", i, r.err)
		}
	}
	if winner == nil {
		t.Fatal("no launch won")
	}
	row.Detect, row.DetectWhat = slowestLoser, fmt.Sprintf("the slowest loser; the winner took %v", winner.took.Round(time.Millisecond))
	if slowestLoser >= winner.took {
		t.Errorf("a loser returned after %v, when the winner was ready (%v): it waited instead of failing at once", slowestLoser, winner.took)
	}
	if err := winner.d.Close(); err != nil {
		t.Error(err)
	}
}

// launchOwnDirs: concurrent launches on directories of their own all win.
func launchOwnDirs(t *testing.T, fx *fixture, row *faultRow) {
	n := 4
	if full() {
		n = 10
	}
	u := fx.bed.Self()
	ds := make([]*rootless.Daemon, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		state, data := testbed.ScratchDir(t, fx.bed, fx.stack, u.RuntimeDir), testbed.ScratchDir(t, fx.bed, fx.stack, u.Home)
		wg.Go(func() {
			ds[i], errs[i] = rootless.Launch(t.Context(), rootless.WithStateDir(state), rootless.WithDataRoot(data),
				rootless.WithBinaries(rootless.Binaries{Path: []string{fx.stack.Bin}}))
		})
	}
	wg.Wait()
	row.Detect, row.DetectWhat = time.Since(start), fmt.Sprintf("until all %d were ready", n)
	won := 0
	for i, d := range ds {
		if errs[i] != nil {
			t.Errorf("launch %d: %v", i, errs[i])
			continue
		}
		won++
		if _, err := testbed.Client(t, d.Host()).Ping(t.Context()); err != nil {
			t.Errorf("daemon %d: %v", i, err)
		}
	}
	row.Seen = fmt.Sprintf("%d of %d launches won", won, n)
	for _, d := range ds {
		if d != nil {
			if err := d.Close(); err != nil {
				t.Error(err)
			}
		}
	}
}

// staleScenarios: what a SIGKILLed daemon left is recovered; a live daemon's state is never
// touched.
var staleScenarios = []scenario{
	{name: "files of a SIGKILLed daemon, pid file naming a live process", checked: true, f: staleFiles},
	{name: "a live daemon's state is never touched", f: liveStateUntouched},
	{name: "a daemon started by dockerd-rootless.sh is never touched", f: scriptStateUntouched},
}

// staleFiles kills the host program, points the stale pid file at an unrelated live process of
// the same user that records any signal it gets, and relaunches.
func staleFiles(t *testing.T, fx *fixture, row *faultRow) {
	h := startFaultHost(t, fx, 0)
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.done
	if len(orphans(t, 20*time.Second)) > 0 {
		t.Fatal("the killed daemon left processes")
	}
	pidFile, sock := filepath.Join(fx.state, "docker.pid"), filepath.Join(fx.state, "docker.sock")
	var left []string
	for _, f := range []string{pidFile, sock, filepath.Join(fx.state, "docker"), filepath.Join(fx.state, "dockerd-rootless")} {
		if _, err := os.Lstat(f); err == nil {
			left = append(left, filepath.Base(f))
		}
	}
	if len(left) < 2 {
		t.Fatalf("the killed daemon left only %v: the relaunch would prove nothing", left)
	}
	// An unrelated process of the same user: it logs every signal it gets.
	sigLog := filepath.Join(t.TempDir(), "signals")
	bystander := exec.Command("sh", "-c", `for s in HUP INT QUIT TERM USR1 USR2 CONT; do trap "echo $s >> `+sigLog+`" $s; done; while :; do sleep 1; done`)
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bystander.Process.Kill(); _ = bystander.Wait() }()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(bystander.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, _ := launchLogged(t, fx.opts()...)
	row.Detect, row.DetectWhat = time.Since(start), "the relaunch"
	row.Seen = "relaunched over " + strings.Join(left, ", ") + "; the process in the stale pid file was not signalled"
	row.DataKept = checkData(t, fx, d)
	if err := d.Close(); err != nil {
		t.Error(err)
	}
	if got, _ := os.ReadFile(sigLog); len(got) > 0 {
		t.Errorf("the unrelated process named by the stale pid file got signals: %q", got)
	}
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the unrelated process is gone: %v", err)
	}
	_ = bystander.Process.Kill()
}

// fileState is what identifies a file's state: its inode, size and modification time.
func fileState(path string) string {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("ino %d size %d mtime %d.%d", st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
}

// liveStateUntouched: a second Launch on a live daemon's state dir fails and changes nothing.
func liveStateUntouched(t *testing.T, fx *fixture, row *faultRow) {
	d, _ := launchLogged(t, fx.opts()...)
	files := []string{filepath.Join(fx.state, "docker.sock"), filepath.Join(fx.state, "docker.pid"), filepath.Join(fx.state, "docker"),
		filepath.Join(fx.state, "dockerd-rootless"), filepath.Join(fx.state, "rootlessd.lock")}
	before := map[string]string{}
	for _, f := range files {
		before[f] = fileState(f)
	}
	u := fx.bed.Self()
	other := testbed.ScratchDir(t, fx.bed, fx.stack, u.Home)
	start := time.Now()
	_, err := rootless.Launch(t.Context(), rootless.WithStateDir(fx.state), rootless.WithDataRoot(other),
		rootless.WithBinaries(rootless.Binaries{Path: []string{fx.stack.Bin}}))
	row.Detect, row.DetectWhat = time.Since(start), "until the second Launch failed"
	row.Seen = short(err)
	if !errors.Is(err, rootless.ErrAlreadyRunning) {
		t.Errorf("second Launch: %v, want ErrAlreadyRunning", err)
	}
	for _, f := range files {
		if now := fileState(f); now != before[f] {
			t.Errorf("%s changed: %s, was %s", f, now, before[f])
		}
	}
	if _, err := testbed.Client(t, d.Host()).Ping(t.Context()); err != nil {
		t.Errorf("the live daemon was disturbed: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

// scriptStateUntouched: a daemon that rootlessd did not start (no lock of ours) answers on the
// socket of the state dir: Launch refuses it and leaves it running.
func scriptStateUntouched(t *testing.T, fx *fixture, row *faultRow) {
	sd := testbed.StartScript(t, fx.bed, fx.stack)
	state := strings.TrimSuffix(strings.TrimPrefix(sd.Host, "unix://"), "/docker.sock")
	sock := filepath.Join(state, "docker.sock")
	before := fileState(sock)
	u := fx.bed.Self()
	_, err := rootless.Launch(t.Context(), rootless.WithStateDir(state), rootless.WithDataRoot(testbed.ScratchDir(t, fx.bed, fx.stack, u.Home)),
		rootless.WithBinaries(rootless.Binaries{Path: []string{fx.stack.Bin}}))
	row.Seen = short(err)
	// Resolve sees the socket answer (rootless.socket-in-use); should the script's daemon not
	// be listening yet, the state dir's files and RootlessKit's lock name it.
	named := func(s string) bool { return strings.Contains(err.Error(), s) }
	if !errors.Is(err, rootless.ErrAlreadyRunning) || !named("a daemon already listens on "+sock) && !named("not started by rootlessd") && !named("locked by a running RootlessKit") {
		t.Errorf("Launch on dockerd-rootless.sh's directory: %v, want ErrAlreadyRunning naming the foreign daemon", err)
	}
	if now := fileState(sock); now != before {
		t.Errorf("the script daemon's socket changed: %s, was %s", now, before)
	}
	if _, err := testbed.Client(t, sd.Host).Ping(t.Context()); err != nil {
		t.Errorf("the script's daemon was disturbed: %v", err)
	}
	if err := sd.Stop(); err != nil {
		t.Error(err)
	}
}

// sigtermScenarios: SIGTERM to a host program whose daemon runs containers.
var sigtermScenarios = []scenario{{name: "SIGTERM with running containers", checked: true, f: sigtermContainers}}

// sigtermContainers: the host program stops its daemon on SIGTERM; dockerd stops the
// containers (their processes see SIGTERM and exit 0) within the stop timeout, without the
// kill; after a relaunch the containers are there and start.
func sigtermContainers(t *testing.T, fx *fixture, row *faultRow) {
	h := startFaultHost(t, fx, 20*time.Second)
	cli := testbed.Client(t, h.host)
	ctx := t.Context()
	marks := testbed.ScratchDir(t, fx.bed, fx.stack, fx.bed.Self().Home)
	if err := os.Chmod(marks, 0o777); err != nil { // root in the container is the user, but be sure
		t.Fatal(err)
	}
	var ids []string
	for i := range 2 {
		c, err := cli.ContainerCreate(ctx, &container.Config{Image: fx.bed.ImageTag,
			Cmd: []string{"sh", "-c", fmt.Sprintf(`trap 'echo stopped > /marks/%d; exit 0' TERM; sleep 600 & wait`, i)}},
			&container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: marks, Target: "/marks"}}}, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
		if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cli.Close()
	start := time.Now()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var closed string
	for line := range h.lines {
		if rest, ok := strings.CutPrefix(line, "CLOSED "); ok {
			closed = rest
		}
	}
	await(t, h.done, time.Minute, "the host program's exit after SIGTERM")
	row.Detect, row.DetectWhat = time.Since(start), "from SIGTERM until the host program exited"
	if closed != "ok" || h.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("Close after SIGTERM: %q, exit %d; want a stop within the stop timeout", closed, h.cmd.ProcessState.ExitCode())
	}
	for i := range ids {
		if b, err := os.ReadFile(filepath.Join(marks, strconv.Itoa(i))); err != nil || strings.TrimSpace(string(b)) != "stopped" {
			t.Errorf("container %d did not see SIGTERM: %q, %v", i, b, err)
		}
	}
	if len(orphans(t, 20*time.Second)) > 0 {
		return
	}
	d, _ := launchLogged(t, fx.opts()...)
	cli = testbed.Client(t, d.Host())
	for _, id := range ids {
		ci, err := cli.ContainerInspect(ctx, id)
		if err != nil {
			t.Fatalf("the container %.12s is gone after the relaunch: %v", id, err)
		}
		if ci.State.ExitCode != 0 {
			t.Errorf("container %.12s exited %d, want 0 (a clean stop)", id, ci.State.ExitCode)
		}
		if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
			t.Errorf("start container %.12s again: %v", id, err)
		}
	}
	row.Seen = fmt.Sprintf("Close returned nil; %d containers exited 0 and started again after the relaunch", len(ids))
	row.DataKept = checkData(t, fx, d)
	for _, id := range ids {
		_ = cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

// killLoopScenarios: launch, import, SIGKILL, relaunch at once, over and over.
var killLoopScenarios = []scenario{{name: "kill loop", checked: true, f: killLoop}}

func killLoop(t *testing.T, fx *fixture, row *faultRow) {
	cycles := 3
	if full() {
		cycles = 10
	}
	var longest time.Duration
	for i := range cycles {
		t0 := time.Now()
		h := startFaultHost(t, fx, 0)
		longest = max(longest, time.Since(t0))
		cli := testbed.Client(t, h.host)
		if err := importImage(t, cli, fmt.Sprintf("rd-loop:%d", i)); err != nil {
			t.Fatalf("cycle %d: import: %v", i, err)
		}
		cli.Close()
		if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-h.done
	}
	row.Detect, row.DetectWhat = longest, fmt.Sprintf("the longest of %d relaunches right after a SIGKILL", cycles)
	if len(orphans(t, 20*time.Second)) > 0 {
		return
	}
	d, _ := launchLogged(t, fx.opts()...)
	cli := testbed.Client(t, d.Host())
	for i := range cycles {
		ref := fmt.Sprintf("rd-loop:%d", i)
		if _, err := cli.ImageInspect(t.Context(), ref); err != nil {
			t.Errorf("%s, imported before a SIGKILL, is lost: %v", ref, err)
		}
		_, _ = cli.ImageRemove(t.Context(), ref, image.RemoveOptions{})
	}
	row.Seen = fmt.Sprintf("%d cycles: every relaunch worked, all %d imported images kept", cycles, cycles)
	row.DataKept = checkData(t, fx, d)
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

// importImage imports a one-file image under ref.
func importImage(t *testing.T, cli *client.Client, ref string) error {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte(ref + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: "loop", Mode: 0o644, Size: int64(len(body))}); err != nil {
		return err
	}
	if _, err := tw.Write(body); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	rc, err := cli.ImageImport(t.Context(), image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	out := new(bytes.Buffer)
	_, _ = out.ReadFrom(rc)
	if strings.Contains(out.String(), `"error"`) {
		return errors.New(out.String())
	}
	return nil
}
