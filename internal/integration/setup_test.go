//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
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

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
	"github.com/rootlessd/rootlessd/rootless/setup"
)

// setupEnv is a test user's session for the setup tests: the real home (the daemon's data and
// the docker CLI's files go to scratch directories instead), a private runtime directory, and
// no systemd.
type setupEnv struct {
	bed          *testbed.Bed
	stack        testbed.Stack
	user         setup.User
	runtimeDir   string
	dockerConfig string
	dataRoot     string
}

func newSetupEnv(t *testing.T, bed *testbed.Bed, stack testbed.Stack) *setupEnv {
	t.Helper()
	u := bed.Self()
	e := &setupEnv{bed: bed, stack: stack,
		runtimeDir:   testbed.ScratchDir(t, bed, stack, u.RuntimeDir),
		dockerConfig: testbed.ScratchDir(t, bed, stack, u.Home),
		dataRoot:     testbed.ScratchDir(t, bed, stack, u.Home),
	}
	config := testbed.ScratchDir(t, bed, stack, u.Home)
	e.user = setup.User{Name: u.Name, UID: u.UID, Home: u.Home, Env: []string{
		"HOME=" + u.Home, "USER=" + u.Name, "PATH=" + testbed.SystemPath,
		"XDG_RUNTIME_DIR=" + e.runtimeDir, "XDG_CONFIG_HOME=" + config, "DOCKER_CONFIG=" + e.dockerConfig,
	}}
	return e
}

// docker runs the real docker CLI in the user's session (no DOCKER_HOST: the context decides).
func (e *setupEnv) docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "/usr/local/bin/docker", args...)
	cmd.Env = e.user.Env
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (e *setupEnv) mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.docker(t, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// startManual runs a command line as a shell would (the line Install prints), with only HOME
// and USER set beforehand, waits for the launcher's DOCKER_HOST line, and stops it at cleanup.
func startManual(t *testing.T, line string, env []string, extraEnv ...string) (*exec.Cmd, string, *testbed.LockedBuffer) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "exec env "+line) // env: so that the shell execs the launcher (SIGTERM reaches it)
	cmd.Env = append(slices.Clone(env), extraEnv...)
	log := &testbed.LockedBuffer{}
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("launcher output:\n%s", log.String())
		}
	})
	line, err = bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the launcher printed no DOCKER_HOST line (%v):\n%s", err, log.String())
	}
	return cmd, strings.TrimPrefix(strings.TrimSpace(line), "DOCKER_HOST="), log
}

func stopAndWait(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if err := syscall.Kill(cmd.Process.Pid, 0); errors.Is(err, syscall.ESRCH) { // reaped by startManual's Wait
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the launcher did not stop within a minute of SIGTERM")
		}
	}
}

// TestSetupWithoutSystemd is the install of this machine, which has no systemd, on both
// stacks: Check finds nothing blocking, Install's manual command line runs as printed, the real
// docker CLI sees the context ("docker context inspect rootless", "docker --context rootless
// version", "docker context use"), a container runs through it, and Uninstall removes the
// context and, with WithRemoveData, the data root with its files of subordinate ids.
func TestSetupWithoutSystemd(t *testing.T) {
	bed := testbed.Require(t)
	launcher := example(t, "launcher")
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			e := newSetupEnv(t, bed, stack)
			opts := []setup.Option{setup.WithUser(e.user), setup.WithSearchPath(stack.Bin), setup.WithLauncher(launcher),
				setup.WithSettings(setup.Settings{Net: "slirp4netns", DockerdFlags: []string{"--data-root=" + e.dataRoot}})}

			err := setup.Check(t.Context(), opts...)
			if b := blocking(err); len(b) > 0 {
				t.Fatalf("Check on the prepared host: %q", b)
			}
			for _, f := range diag.List(err) {
				t.Logf("%s: %s: %s", f.Severity, f.ID, f.Detail)
			}
			p, err := setup.Install(t.Context(), opts...) // systemd detected for real: absent here
			if err != nil {
				t.Fatal(err)
			}
			if p.Manual == nil {
				t.Fatalf("no systemd here, yet no manual command:\n%s", p)
			}
			if err := p.Apply(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			t.Logf("run by hand: %s\nexport: %q", p.Manual, p.Env)
			wantHost := "unix://" + filepath.Join(e.runtimeDir, "docker.sock")
			if !slices.Contains(p.Env, "DOCKER_HOST="+wantHost) {
				t.Errorf("Env %q lacks DOCKER_HOST=%s", p.Env, wantHost)
			}

			cmd, host, _ := startManual(t, p.Manual.String(), []string{"HOME=" + e.user.Home, "USER=" + e.user.Name})
			if host != wantHost {
				t.Fatalf("the launcher serves %s, the context says %s", host, wantHost)
			}
			if got := e.mustDocker(t, "context", "inspect", "rootless", "--format", "{{.Endpoints.docker.Host}}"); got != wantHost {
				t.Errorf("docker context inspect rootless: host %q, want %q", got, wantHost)
			}
			if got := e.mustDocker(t, "context", "ls", "--format", "{{.Name}} {{.Current}} {{.Description}}"); !strings.Contains(got, "rootless true Rootless mode") {
				t.Errorf("docker context ls: %q; want rootless, current, with Docker's description", got)
			}
			server := e.mustDocker(t, "--context", "rootless", "version", "--format", "{{.Server.Version}}")
			if info := e.mustDocker(t, "info", "--format", "{{.SecurityOptions}}"); !strings.Contains(info, "name=rootless") {
				t.Errorf("docker info through the current context: %s", info)
			}
			e.mustDocker(t, "context", "use", "default")
			if got := e.mustDocker(t, "context", "show"); got != "default" {
				t.Errorf("after docker context use default: %s", got)
			}
			e.mustDocker(t, "context", "use", "rootless")
			e.mustDocker(t, "load", "-q", "-i", bed.Image)
			if out := e.mustDocker(t, "run", "--rm", bed.ImageTag, "/bin/busybox", "echo", "through-the-context"); out != "through-the-context" {
				t.Errorf("docker run: %q", out)
			}
			t.Logf("dockerd %s through the context %s", server, wantHost)
			stopAndWait(t, cmd)

			// Uninstall with dockerd out of reach (no search path): its prerequisites do not
			// matter. Without a unit, the settings name the data root.
			un, err := setup.Uninstall(t.Context(), setup.WithUser(e.user), setup.WithRemoveData(true),
				setup.WithSettings(setup.Settings{DockerdFlags: []string{"--data-root=" + e.dataRoot}}))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(un.String(), "rootless.RemoveAll "+e.dataRoot) {
				t.Errorf("the plan does not remove the daemon's data root %s:\n%s", e.dataRoot, un)
			}
			if err := un.Apply(t.Context(), nil); err != nil {
				t.Fatalf("uninstall: %v\n%s", err, un)
			}
			if out, err := e.docker(t, "context", "inspect", "rootless"); err == nil {
				t.Errorf("context still there after uninstall: %s", out)
			}
			if got := e.mustDocker(t, "context", "show"); got != "default" {
				t.Errorf("current context after uninstall: %s", got)
			}
			if _, err := os.Stat(e.dataRoot); !os.IsNotExist(err) {
				t.Errorf("data root %s after uninstall with WithRemoveData: %v", e.dataRoot, err)
			}
			testbed.AssertNoProcesses(t, 10*time.Second)
		})
	}
}

// blocking lists the problems in err that stop an install: findings of severity Error, and any
// other error.
func blocking(err error) []string {
	var out []string
	diag.Walk(err, func(e error) bool {
		switch e := e.(type) {
		case *diag.Finding:
			if e.Severity == diag.Error {
				out = append(out, e.Error())
			}
		case interface{ Unwrap() []error }:
			return true
		default:
			out = append(out, e.Error())
		}
		return false
	})
	return out
}

// TestSetuptoolCommands drives the built examples/setuptool like a user: check, install
// (printing the manual command), nsenter into the running daemon, a refused rm while it runs,
// uninstall --remove-data after it stopped.
func TestSetuptoolCommands(t *testing.T) {
	bed := testbed.Require(t)
	tool := example(t, "setuptool")
	example(t, "launcher") // next to it
	stack := bed.Stacks[len(bed.Stacks)-1]
	e := newSetupEnv(t, bed, stack)
	common := []string{"--path", stack.Bin, "--dockerd-flags", "--data-root=" + e.dataRoot}
	run := func(args ...string) (int, string) {
		cmd := exec.CommandContext(t.Context(), tool, append(common, args...)...)
		cmd.Env = e.user.Env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	if code, out := run("check"); code != 0 || !strings.Contains(out, "[INFO] Requirements are satisfied") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	code, out := run("install")
	if code != 0 {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	t.Logf("install:\n%s", out)
	var manual string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, "XDG_RUNTIME_DIR=") {
			manual = l
		}
	}
	if manual == "" {
		t.Fatalf("install printed no command to run by hand:\n%s", out)
	}
	cmd, host, _ := startManual(t, manual, []string{"HOME=" + e.user.Home, "USER=" + e.user.Name})
	e.mustDocker(t, "version")

	// nsenter: root of the user namespace, in the containers' network namespace (tap0), and in
	// the daemon's PID namespace (dockerd is there).
	code, out = run("nsenter", "--", "/bin/sh", "-c", "id -u; cat /proc/net/dev; echo $ROOTLESSKIT_STATE_DIR; cat /proc/[0-9]*/comm")
	if code != 0 || !strings.HasPrefix(out, "0\n") || !strings.Contains(out, "tap0") || !strings.Contains(out, filepath.Join(e.runtimeDir, "dockerd-rootless")) ||
		!strings.Contains(out, "\ndockerd\n") {
		t.Errorf("nsenter: exit %d\n%s", code, out)
	}
	if code, out := run("nsenter", "--", "/bin/sh", "-c", "exit 7"); code != 7 {
		t.Errorf("nsenter's exit status: %d, want the command's 7\n%s", code, out)
	}
	e.mustDocker(t, "load", "-q", "-i", bed.Image) // files of subordinate ids in the data root
	if code, out := run("rm"); code != 1 || !strings.Contains(out, "still answers") {
		t.Errorf("rm while the daemon runs: exit %d\n%s", code, out)
	}
	stopAndWait(t, cmd)
	_ = host
	if code, out := run("--remove-data", "uninstall"); code != 0 {
		t.Errorf("uninstall --remove-data: exit %d\n%s", code, out)
	} else {
		t.Logf("uninstall:\n%s", out)
	}
	if _, err := os.Stat(e.dataRoot); !os.IsNotExist(err) {
		t.Errorf("data root after uninstall --remove-data: %v", err)
	}
	if code, out := run("nsenter", "true"); code != 1 || !strings.Contains(out, "setup.not-running") {
		t.Errorf("nsenter without a daemon: exit %d\n%s", code, out)
	}
	testbed.AssertNoProcesses(t, 10*time.Second)
}

// TestUninstallWithBrokenPrerequisites: after an install with systemd (its unit, drop-in and
// context on disk) and a daemon that left files of subordinate ids in its data root, the
// user's subordinate ids are taken away and dockerd is out of reach. Uninstall still removes
// the unit, the drop-in and the context; removing the data then fails with a message that says
// what is left and how to remove it.
func TestUninstallWithBrokenPrerequisites(t *testing.T) {
	bed := testbed.Require(t)
	launcher := example(t, "launcher")
	stack := bed.Stacks[len(bed.Stacks)-1]
	e := newSetupEnv(t, bed, stack)
	settings := setup.WithSettings(setup.Settings{DockerdFlags: []string{"--data-root=" + e.dataRoot}})
	p, err := setup.Install(t.Context(), setup.WithUser(e.user), setup.WithSystemd(true), setup.WithLauncher(launcher),
		setup.WithSearchPath(stack.Bin), settings)
	if err != nil {
		t.Fatal(err)
	}
	var files []setup.Action // what a systemd host has after the install; its manager is not here
	for _, a := range p.Actions {
		switch a.(type) {
		case *setup.Command, *setup.PingAPI:
		default:
			files = append(files, a)
		}
	}
	p.Actions = files
	if err := p.Apply(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	d := launch(t, bed, stack, rootless.WithDataRoot(e.dataRoot))
	cli := testbed.Client(t, d.Host())
	testbed.LoadImage(t, cli, bed)
	// A directory of a subordinate id, not writable by the user: only a user namespace can
	// empty it.
	if code, out := testbed.RunOnce(t, cli, bed, &container.HostConfig{Binds: []string{"keep:/v"}},
		"/bin/sh", "-c", "mkdir /v/d && touch /v/d/f && chown -R 1000:1000 /v/d"); code != 0 {
		t.Fatalf("make files of a subordinate id: %d %s", code, out)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	testbed.AsRoot(t, "hide-subids", e.user.Name)
	rep, err := rootless.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if problems := rep.Findings; !slices.ContainsFunc(problems, func(f *diag.Finding) bool {
		return f.Severity == diag.Error && strings.HasPrefix(string(f.ID), "idmap.sub")
	}) {
		b, _ := os.ReadFile("/etc/subuid")
		t.Fatalf("Check does not miss the subordinate ids: the prerequisite is not broken: %v\n/etc/subuid:\n%s", problems, b)
	}
	un, err := setup.Uninstall(t.Context(), setup.WithUser(e.user), setup.WithSystemd(false), setup.WithRemoveData(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan:\n%s", un)
	err = un.Apply(t.Context(), nil)
	ae, ok := errors.AsType[*setup.ActionError](err)
	if !ok || !strings.Contains(ae.Action.String(), "RemoveAll "+e.dataRoot) || !strings.Contains(err.Error(), "sudo rm -rf") {
		t.Fatalf("Apply: %v; want only the data removal to fail, saying how to finish it", err)
	}
	t.Logf("the data removal failed as it must: %v", err)
	for _, f := range []string{filepath.Join(e.user.Env[4][len("XDG_CONFIG_HOME="):], "systemd/user/docker.service"),
		filepath.Join(e.user.Env[4][len("XDG_CONFIG_HOME="):], "systemd/user/docker.service.d")} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", f, err)
		}
	}
	if out, err := e.docker(t, "context", "inspect", "rootless"); err == nil {
		t.Errorf("context still there: %s", out)
	}
	if _, err := os.Stat(e.dataRoot); err != nil {
		t.Errorf("the data root went although it could not be removed: %v", err)
	}
	testbed.AssertNoProcesses(t, 10*time.Second)
}

// TestLauncherNotifiesSystemd plays systemd's side of sd_notify with a real datagram socket
// (NOTIFY_SOCKET): READY=1 comes once the API answers, SIGHUP reaches dockerd (it reloads its
// configuration) without stopping anything, and SIGTERM brings STOPPING=1 and a clean exit.
// dockerd itself has no NOTIFY_SOCKET: only the launcher speaks for the service.
func TestLauncherNotifiesSystemd(t *testing.T) {
	bed := testbed.Require(t)
	launcher := example(t, "launcher")
	stack := bed.Stacks[len(bed.Stacks)-1]
	u := bed.Self()
	xdg := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
	data := testbed.ScratchDir(t, bed, stack, u.Home)
	sockPath := filepath.Join(xdg, "notify.sock")
	ns, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	cmd, host, log := startManual(t, launcher+" --data-root "+data,
		[]string{"HOME=" + u.Home, "USER=" + u.Name, "XDG_RUNTIME_DIR=" + xdg, "PATH=" + stack.Path()},
		"NOTIFY_SOCKET="+sockPath)
	msg := readNotify(t, ns)
	if !strings.Contains(msg, "READY=1") || !strings.Contains(msg, "STATUS=DOCKER_HOST="+host) {
		t.Fatalf("first notification %q, want READY=1 and the status", msg)
	}
	cli := testbed.Client(t, host)
	if _, err := cli.Ping(t.Context()); err != nil {
		t.Fatalf("READY=1 came, but the API does not answer: %v", err)
	}
	for _, pid := range pidsNamed(t, "dockerd") {
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if bytes.Contains(env, []byte("NOTIFY_SOCKET=")) {
			t.Errorf("dockerd (pid %d) has NOTIFY_SOCKET in its environment", pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !strings.Contains(log.String(), "reload"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("dockerd never logged a reload after SIGHUP to the launcher:\n%s", log.String())
		}
	}
	if _, err := cli.Ping(t.Context()); err != nil {
		t.Fatalf("after SIGHUP the API does not answer: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if msg := readNotify(t, ns); msg != "STOPPING=1" {
		t.Errorf("notification after SIGTERM %q, want STOPPING=1", msg)
	}
	stopAndWait(t, cmd)
	testbed.AssertNoProcesses(t, 10*time.Second)
}

func readNotify(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute)) // bounds a wait; times nothing
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no sd_notify datagram: %v", err)
	}
	return string(buf[:n])
}

// pidsNamed lists this user's processes whose command name is name.
func pidsNamed(t *testing.T, name string) []int {
	var out []int
	for _, p := range testbed.ProcessesOf(os.Getuid()) {
		comm, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == name {
			out = append(out, p.PID)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s process found", name)
	}
	return out
}
