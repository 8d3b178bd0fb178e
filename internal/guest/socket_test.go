//go:build guest

package guest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless/setup"
)

// devtoolPath is examples/devtool in the guest: the host puts it in the share's bin/, which
// the guest's runner copies next to the test binaries.
const devtoolPath = "/usr/local/libexec/rootlessd-guest/devtool"

// activated is the name of the socket activation units of TestSocketActivation.
const activated = "docker-activated"

// activatedIdle is the service's WithIdleStop (devtool serve -idle).
const activatedIdle = 5 * time.Second

// TestSocketActivation runs rootless/setup's SocketActivation units under the guest's real
// systemd, with examples/devtool's `serve` (rootless.Activator over SystemdListeners,
// WithIdleStop) as the service: once the socket unit is started nothing runs; a cold `docker
// version` (the real CLI, its default timeouts) and several other clients at once during the
// start-up all get their answers; the daemon then runs inside the service; after the idle stop
// the service and its socket stay, nothing of the daemon does, and the next `docker version`
// starts it again with the loaded image kept; stop and removal of the units leave no process
// and no unit. It logs the cold and warm times of `docker version` through the socket (under
// TCG emulation: a measure of the guest, not of real hardware).
func TestSocketActivation(t *testing.T) {
	bed := testbed.RequireGuest(t)
	if _, err := os.Stat(devtoolPath); err != nil {
		t.Fatalf("devtool is not in the guest: %v (the host puts examples/devtool in the share's bin/)", err)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	project := filepath.Join(home, "activated-project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), activated+".sock")
	host := "unix://" + sock
	units, err := setup.SocketActivation(activated, "%t/"+activated+".sock", setup.SystemPath,
		devtoolPath, "-C", project, "-v", "-idle", activatedIdle.String(), "serve")
	if err != nil {
		t.Fatalf("setup.SocketActivation: %v", err)
	}
	dir := filepath.Join(home, ".config/systemd/user")
	socketUnit, serviceUnitFile := filepath.Join(dir, activated+".socket"), filepath.Join(dir, activated+".service")
	svc := activated + ".service"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{socketUnit: units.Socket, serviceUnitFile: units.Service} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed := false
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("journalctl", "--user", "--no-pager", "-n", "120", "-u", svc, "-u", activated+".socket").CombinedOutput()
			t.Logf("journal of %s and its socket:\n%s", svc, out)
		}
		if !removed { // a failed test still leaves nothing for the next phases
			_ = exec.Command("systemctl", "--user", "stop", activated+".socket", svc).Run()
			os.Remove(socketUnit)
			os.Remove(serviceUnitFile)
			_ = exec.Command("systemctl", "--user", "daemon-reload").Run()
		}
		os.RemoveAll(project)
	})
	t.Logf("socket unit:\n%s\nservice unit:\n%s", units.Socket, units.Service)
	if out, err := exec.CommandContext(t.Context(), "systemd-analyze", "--user", "verify", "--man=no", socketUnit, serviceUnitFile).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze --user verify: %v\n%s", err, out)
	}
	mustSystemctl(t, "daemon-reload")
	mustSystemctl(t, "start", activated+".socket")
	if state, _ := systemctlUser(t, "is-active", activated+".socket"); state != "active" {
		t.Fatalf("%s.socket is %q after start", activated, state)
	}
	if st, err := os.Stat(sock); err != nil {
		t.Errorf("the socket %s: %v", sock, err)
	} else if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("the socket %s has mode %v; want a socket of mode 0600", sock, st.Mode())
	}
	if state, _ := systemctlUser(t, "is-active", svc); state != "inactive" {
		t.Errorf("%s is %q before the first connection, want inactive", svc, state)
	}
	if ps := daemonProcesses(); len(ps) > 0 {
		t.Fatalf("the daemon runs before the first connection: %v", ps)
	}

	// Cold: several clients at once; one holds its connection (docker events), so that the
	// daemon cannot go idle while the test looks at it.
	events := exec.Command("docker", "events", "--format", "{{.Type}} {{.Action}}")
	events.Env = append(os.Environ(), "DOCKER_HOST="+host)
	var evOut testbed.LockedBuffer
	events.Stdout, events.Stderr = &evOut, &evOut
	const clients = 4
	cold := make([]time.Duration, clients)
	answers := make([]string, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			start := time.Now()
			answers[i], errs[i] = dockerVersion(t, host)
			cold[i] = time.Since(start)
		})
	}
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	stopEvents := sync.OnceFunc(func() {
		_ = events.Process.Kill()
		_ = events.Wait()
	})
	defer stopEvents()
	wg.Wait()
	for i := range clients {
		if errs[i] != nil {
			t.Errorf("client %d of %d, cold: %v", i+1, clients, errs[i])
		} else if !strings.HasPrefix(answers[i], "26.1.") {
			t.Errorf("client %d of %d, cold: docker version says %q, want the server's 26.1.x", i+1, clients, answers[i])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if evOut.String() != "" {
		t.Errorf("docker events, started with the cold clients, said: %s", evOut.String())
	}
	slices.Sort(cold)
	t.Logf("cold start through the systemd socket (TCG emulation): %d clients at once answered in %v .. %v after the socket's first connection",
		clients, cold[0].Round(time.Millisecond), cold[clients-1].Round(time.Millisecond))

	mainPID := mustShow(t, svc, "MainPID")
	cg := mustShow(t, svc, "ControlGroup")
	if state, _ := systemctlUser(t, "is-active", svc); state != "active" || mainPID == "0" || cg == "" {
		t.Fatalf("%s is %q (main PID %s, cgroup %q) once clients got answers", svc, state, mainPID, cg)
	}
	first := dockerdIn(t, cg)
	t.Logf("the daemon runs under %s: main PID %s (devtool serve), dockerd %d, cgroup %s", svc, mainPID, first, cg)

	if out := dockerCLI(t, host, "load", "-i", bed.Image); !strings.Contains(out, bed.ImageTag) {
		t.Fatalf("docker load: %s", out)
	}
	if out := dockerCLI(t, host, "run", "--rm", bed.ImageTag, "echo", "hello through the socket unit"); out != "hello through the socket unit" {
		t.Errorf("docker run through %s: %q", host, out)
	}
	var warm []time.Duration
	for range 3 {
		start := time.Now()
		if v, err := dockerVersion(t, host); err != nil || !strings.HasPrefix(v, "26.1.") {
			t.Fatalf("warm docker version: %q, %v", v, err)
		}
		warm = append(warm, time.Since(start))
	}
	sort.Slice(warm, func(i, j int) bool { return warm[i] < warm[j] })
	t.Logf("warm `docker version` through the systemd socket (TCG emulation): %v (median of 3; min %v)", warm[1].Round(time.Millisecond), warm[0].Round(time.Millisecond))
	// The same API call without the CLI's start-up: GET /_ping on a new connection each time,
	// through the activator's splice and straight on the daemon's own socket.
	own, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "rootlessd-dev", "*", "docker.sock"))
	if len(own) != 1 {
		t.Fatalf("the daemon's own socket: %v, want one under $XDG_RUNTIME_DIR/rootlessd-dev", own)
	}
	t.Logf("warm GET /_ping (TCG emulation, median of 9 new connections): %v through the systemd socket, %v on the daemon's own socket %s",
		pingMedian(t, sock), pingMedian(t, own[0]), own[0])

	// Idle: the last connection goes, and no container runs.
	stopEvents()
	idleFrom := time.Now()
	for len(processesIn(cg, "dockerd")) > 0 {
		if time.Since(idleFrom) > 3*time.Minute {
			t.Fatalf("dockerd still runs %v after the last connection (idle stop %v): %v", time.Since(idleFrom).Round(time.Second), activatedIdle, processesIn(cg, ""))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("idle stop: dockerd gone %v after the last connection ended (WithIdleStop %v)", time.Since(idleFrom).Round(100*time.Millisecond), activatedIdle)
	if state, _ := systemctlUser(t, "is-active", activated+".socket"); state != "active" {
		t.Errorf("%s.socket is %q after the idle stop, want active (listening)", activated, state)
	}
	if state, _ := systemctlUser(t, "is-active", svc); state != "active" || mustShow(t, svc, "MainPID") != mainPID {
		t.Errorf("%s is %q with main PID %s after the idle stop; want the same devtool serve (%s) waiting on the socket", svc, state, mustShow(t, svc, "MainPID"), mainPID)
	}
	if left := processesIn(cg, ""); len(left) != 1 {
		t.Errorf("after the idle stop the service's cgroup holds %v; want devtool serve alone", left)
	}

	// The next connection starts it again.
	start := time.Now()
	if v, err := dockerVersion(t, host); err != nil || !strings.HasPrefix(v, "26.1.") {
		t.Fatalf("docker version after the idle stop: %q, %v", v, err)
	}
	t.Logf("cold start after the idle stop (TCG emulation): `docker version` answered in %v", time.Since(start).Round(time.Millisecond))
	if id := dockerCLI(t, host, "image", "inspect", "--format", "{{.Id}}", bed.ImageTag); id == "" {
		t.Errorf("the image loaded before the idle stop is gone")
	}
	if second := dockerdIn(t, cg); second == first {
		t.Errorf("dockerd %d before the idle stop and after it: not restarted", first)
	}
	// For the log only: whether the user's journal is kept depends on journald's storage.
	journal, _ := exec.Command("journalctl", "--user", "--no-pager", "-o", "cat", "-u", svc).CombinedOutput()
	t.Logf("devtool serve's journal: %d starts by a connection, %d idle stops",
		strings.Count(string(journal), "daemon started by a connection"), strings.Count(string(journal), "stopping the idle daemon"))

	// Stop and remove: nothing is left.
	mustSystemctl(t, "stop", activated+".socket", svc)
	if err := os.Remove(socketUnit); err != nil {
		t.Error(err)
	}
	if err := os.Remove(serviceUnitFile); err != nil {
		t.Error(err)
	}
	mustSystemctl(t, "daemon-reload")
	removed = true
	for _, u := range []string{activated + ".socket", svc} {
		if load := mustShow(t, u, "LoadState"); load != "not-found" {
			t.Errorf("%s is %q after its removal, want not-found", u, load)
		}
	}
	if ps := daemonProcesses(); len(ps) > 0 {
		t.Errorf("left behind after stop and removal: %v", ps)
	}
	if cg != "" {
		if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", cg, "cgroup.procs")); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			t.Errorf("the service's cgroup %s still has processes: %s", cg, strings.Fields(string(b)))
		}
	}
	os.Remove(sock) // systemd leaves the socket file (RemoveOnStop=no)
}

// dockerVersion runs `docker version` with the real CLI and its default timeouts against host
// and returns the server's version.
func dockerVersion(t *testing.T, host string) (string, error) {
	cmd := exec.CommandContext(t.Context(), "docker", "version", "--format", "{{.Server.Version}}")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker version: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// pingMedian is the median time of nine GET /_ping on sock, each on a new connection.
func pingMedian(t *testing.T, sock string) time.Duration {
	t.Helper()
	var ds []time.Duration
	for range 9 {
		hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			}}}
		start := time.Now()
		resp, err := hc.Get("http://docker/_ping")
		if err != nil {
			t.Fatalf("GET /_ping on %s: %v", sock, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "OK" {
			t.Fatalf("GET /_ping on %s: %s %q", sock, resp.Status, body)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2].Round(10 * time.Microsecond)
}

func mustSystemctl(t *testing.T, args ...string) {
	t.Helper()
	if out, err := systemctlUser(t, args...); err != nil {
		t.Fatalf("systemctl --user %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// mustShow is one property of a user unit.
func mustShow(t *testing.T, unit, prop string) string {
	t.Helper()
	out, err := systemctlUser(t, "show", "--value", "-p", prop, unit)
	if err != nil {
		t.Fatalf("systemctl --user show -p %s %s: %v\n%s", prop, unit, err, out)
	}
	return out
}

// daemonPrograms are the programs of a daemon's tree: devtool is the embedded engine's
// RootlessKit too.
var daemonPrograms = []string{"devtool", "launcher", "dockerd", "containerd", "containerd-shim-runc-v2", "rootlesskit", "slirp4netns", "pasta", "pasta.avx2"}

// daemonProcesses lists this user's processes of daemonPrograms.
func daemonProcesses() []testbed.Proc {
	var out []testbed.Proc
	for _, p := range testbed.ProcessesOf(os.Getuid()) {
		if f := strings.Fields(p.Cmdline); len(f) > 0 && slices.Contains(daemonPrograms, filepath.Base(f[0])) {
			out = append(out, p)
		}
	}
	return out
}

// processesIn lists the processes in cgroup cg or below it whose program is named prog (every
// one for "").
func processesIn(cg, prog string) []testbed.Proc {
	var out []testbed.Proc
	for _, p := range testbed.ProcessesOf(os.Getuid()) {
		c := cgroupOf(p.PID)
		if c != cg && !strings.HasPrefix(c, cg+"/") {
			continue
		}
		if f := strings.Fields(p.Cmdline); prog == "" || len(f) > 0 && filepath.Base(f[0]) == prog {
			out = append(out, p)
		}
	}
	return out
}

// dockerdIn is the pid of the one dockerd in cgroup cg; it fails t unless there is one.
func dockerdIn(t *testing.T, cg string) int {
	t.Helper()
	ps := processesIn(cg, "dockerd")
	if len(ps) != 1 {
		t.Fatalf("dockerd processes in %s: %v; want one (all of this user's: %v)", cg, ps, daemonProcesses())
	}
	return ps[0].PID
}

// cgroupOf is the cgroup v2 path of pid ("" if unknown).
func cgroupOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return rest
		}
	}
	return ""
}
