//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

// badInputScenarios: bad values and impossible set-ups. Each must be a clear error (what,
// where, the fix), soon, with nothing started and nothing lost.
var badInputScenarios = []scenario{
	{name: "every DOCKERD_ROOTLESS_ROOTLESSKIT_* variable with a bad value", untouched: true, f: badScriptEnv},
	{name: "invalid option sets", untouched: true, f: badOptionSets},
	{name: "data root on a full file system", untouched: true, f: fullDataRoot},
	{name: "data root on a read-only file system", untouched: true, f: readOnlyDataRoot},
	{name: "a missing binary", untouched: true, f: missingBinary},
	{name: "state dir over the socket path limit", untouched: true, f: longStateDir},
}

// expectErrors runs one Launch per case and checks its error; it returns the slowest.
func expectErrors(t *testing.T, row *faultRow, cases map[string]struct {
	opts  []rootless.Option
	check func(error) bool
}) {
	t.Helper()
	var slowest time.Duration
	for name, c := range cases {
		start := time.Now()
		d, err := rootless.Launch(t.Context(), c.opts...)
		slowest = max(slowest, time.Since(start))
		if d != nil {
			d.Close()
			t.Errorf("%s: Launch succeeded", name)
			continue
		}
		if !c.check(err) {
			t.Errorf("%s: %v", name, err)
		}
		if row.Seen == "" || strings.Contains(name, "NET") && strings.Contains(name, "PORT_DRIVER") {
			row.Seen = short(err)
		}
	}
	row.Detect, row.DetectWhat = slowest, fmt.Sprintf("the slowest of %d errors", len(cases))
}

// isClear reports an error that says what is wrong and how to fix it: an option error naming
// its option, or findings with a fix.
func isClear(err error, names ...string) bool {
	if err == nil {
		return false
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			return false
		}
	}
	if errors.Is(err, rootless.ErrInvalidOption) {
		return true
	}
	fs := diag.List(err)
	for _, f := range fs {
		if f.Fix == "" {
			return false
		}
	}
	return len(fs) > 0
}

func badScriptEnv(t *testing.T, fx *fixture, row *faultRow) {
	cases := map[string]struct {
		opts  []rootless.Option
		check func(error) bool
	}{}
	add := func(valid string, env ...string) {
		var names []string
		for _, kv := range env {
			k, _, _ := strings.Cut(kv, "=")
			names = append(names, k)
		}
		if valid != "" {
			names = append(names, valid)
		}
		cases[strings.Join(env, " ")] = struct {
			opts  []rootless.Option
			check func(error) bool
		}{fx.opts(rootless.WithScriptEnv(env)), func(err error) bool {
			return errors.Is(err, rootless.ErrInvalidOption) && isClear(err, names...)
		}}
	}
	add("", rootless.EnvScriptStateDir+"=relative/dir")
	add("valid: slirp4netns, pasta", rootless.EnvScriptNet+"=bogus")
	add("valid: slirp4netns, pasta", rootless.EnvScriptNet+"=host")
	add("between 68 and 65521", rootless.EnvScriptMTU+"=abc")
	add("between 68 and 65521", rootless.EnvScriptMTU+"=70000")
	add("valid: builtin", rootless.EnvScriptPortDriver+"=pasta")
	add("valid with vpnkit: builtin, none", rootless.EnvScriptNet+"=vpnkit", rootless.EnvScriptPortDriver+"=slirp4netns")
	add("valid with slirp4netns: builtin, slirp4netns, none", rootless.EnvScriptNet+"=slirp4netns", rootless.EnvScriptPortDriver+"=implicit")
	add("auto, true or false", rootless.EnvScriptSandbox+"=yes")
	add("auto, true or false", rootless.EnvScriptSeccomp+"=maybe")
	add("valid: true, false, 1, 0", rootless.EnvScriptHostLoopback+"=x")
	add("valid: true, false, 1, 0", rootless.EnvScriptDetachNetNS+"=maybe")
	add("supported:", rootless.EnvScriptFlags+"=--net=vpnkit")
	add("", rootless.EnvScriptFlags+"=--cidr=10.0.2.100/24")
	add("", rootless.EnvScriptDockerd+"=dockerd")
	expectErrors(t, row, cases)
}

func badOptionSets(t *testing.T, fx *fixture, row *faultRow) {
	cases := map[string]struct {
		opts  []rootless.Option
		check func(error) bool
	}{
		"slirp4netns with implicit": {fx.opts(rootless.WithNetwork(netdriver.Slirp4netns{}), rootless.WithPortDriver(portdriver.Implicit{})),
			func(err error) bool { return errors.Is(err, netdriver.IDIncompatible) && isClear(err, "builtin") }},
		"sandbox with detach-netns": {fx.opts(rootless.WithNetwork(netdriver.Slirp4netns{Sandbox: netdriver.True}), rootless.WithDetachNetNS(true)),
			func(err error) bool { return isClear(err) }},
		"a path option in dockerd's args": {fx.opts(rootless.WithDockerdArgs("--data-root=/elsewhere")),
			func(err error) bool { return isClear(err, "WithDataRoot") }},
		"a watchdog that polls too fast": {fx.opts(rootless.WithWatchdog(rootless.Watchdog{Interval: time.Millisecond})),
			func(err error) bool { return isClear(err, "WithWatchdog", "100ms") }},
		"no start-up time": {fx.opts(rootless.WithStartTimeout(0)), func(err error) bool { return isClear(err, "WithStartTimeout") }},
		"a nil driver and a relative path": {fx.opts(rootless.WithNetwork(nil), rootless.WithSocket("docker.sock")),
			func(err error) bool { return isClear(err, "WithNetwork", "WithSocket") }},
	}
	if fx.stack.Name == "distro" { // dockerd 20.10 cannot run outside RootlessKit's network namespace
		cases["detach-netns with dockerd 20.10"] = struct {
			opts  []rootless.Option
			check func(error) bool
		}{fx.opts(rootless.WithDetachNetNS(true)), func(err error) bool { return errors.Is(err, rootless.IDDetachNetNSUnsupported) && isClear(err) }}
	}
	expectErrors(t, row, cases)
}

// fullDataRoot fills a small file system and puts the data root on it: the StartError must
// name the data root as full. Once space is freed, the same directories launch.
func fullDataRoot(t *testing.T, fx *fixture, row *faultRow) {
	// The workers of both stacks share this file system: one fills it at a time.
	fs, err := os.Open(testbed.FullFS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if err := syscall.Flock(int(fs.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(testbed.FullFS(t), "data-"+fx.stack.Name)
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	defer testbed.RemoveAll(t, fx.stack, data)
	fill := filepath.Join(filepath.Dir(data), "fill-"+fx.stack.Name)
	defer os.Remove(fill)
	f, err := os.Create(fill)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	for _, small := range []int{4096, 512, 1} { // down to the last byte
		g, _ := os.OpenFile(fill, os.O_APPEND|os.O_WRONLY, 0)
		for {
			if _, err := g.Write(block[:small]); err != nil {
				break
			}
		}
		g.Close()
	}
	state := testbed.ScratchDir(t, fx.bed, fx.stack, fx.bed.Self().RuntimeDir)
	out := &testbed.LockedBuffer{}
	start := time.Now()
	d, err := rootless.Launch(t.Context(), rootless.WithStateDir(state), rootless.WithDataRoot(data), logger(out),
		rootless.WithBinaries(rootless.Binaries{Path: []string{fx.stack.Bin}}))
	row.Detect, row.DetectWhat = time.Since(start), "until Launch failed"
	if d != nil {
		d.Close()
		t.Fatal("Launch succeeded on a full file system")
	}
	se, ok := errors.AsType[*rootless.StartError](err)
	row.Seen = short(err)
	if ok {
		row.Seen = "cause: " + se.Cause
	}
	if want := "the data root " + data + " is on a full file system"; !ok || !strings.HasPrefix(se.Cause, want) || !strings.Contains(se.Fix, "df -h "+data) {
		t.Errorf("Launch: %v\nwant a StartError whose cause starts %q\nlog:\n%s", err, want, out.String())
	}
	assertOnlyLock(t, state)
}

func readOnlyDataRoot(t *testing.T, fx *fixture, row *faultRow) {
	data := testbed.ReadOnlyFS(t)
	state := testbed.ScratchDir(t, fx.bed, fx.stack, fx.bed.Self().RuntimeDir)
	start := time.Now()
	d, err := rootless.Launch(t.Context(), rootless.WithStateDir(state), rootless.WithDataRoot(data),
		rootless.WithBinaries(rootless.Binaries{Path: []string{fx.stack.Bin}}))
	row.Detect, row.DetectWhat = time.Since(start), "until Launch failed"
	if d != nil {
		d.Close()
		t.Fatal("Launch succeeded on a read-only file system")
	}
	row.Seen = short(err)
	if !errors.Is(err, rootless.IDDataRootUnwritable) || !isClear(err, data, "read-only") {
		t.Errorf("Launch: %v, want %s naming %s as read-only", err, rootless.IDDataRootUnwritable, data)
	}
	assertOnlyLock(t, state)
}

func missingBinary(t *testing.T, fx *fixture, row *faultRow) {
	cases := map[string]struct {
		opts  []rootless.Option
		check func(error) bool
	}{
		"NET=vpnkit, which is not installed": {fx.opts(rootless.WithScriptEnv([]string{rootless.EnvScriptNet + "=vpnkit"})),
			func(err error) bool { return isClear(err, "vpnkit") }},
		"a network program not on PATH": {fx.opts(rootless.WithNetwork(netdriver.Slirp4netns{Binary: "slirp4netns-not-installed"})),
			func(err error) bool { return isClear(err, "slirp4netns-not-installed") }},
		"a dockerd that is not there": {fx.opts(rootless.WithBinaries(rootless.Binaries{Dockerd: "/nonexistent/bin/dockerd", Path: []string{fx.stack.Bin}})),
			func(err error) bool { return isClear(err, "/nonexistent/bin/dockerd") }},
	}
	expectErrors(t, row, cases)
}

func longStateDir(t *testing.T, fx *fixture, row *faultRow) {
	long := filepath.Join(fx.bed.Self().RuntimeDir, strings.Repeat("d", 100))
	start := time.Now()
	_, err := rootless.Launch(t.Context(), rootless.WithStateDir(long), rootless.WithDataRoot(fx.data),
		rootless.WithBinaries(rootless.Binaries{Path: []string{fx.stack.Bin}}))
	row.Detect, row.DetectWhat = time.Since(start), "until Launch failed"
	row.Seen = short(err)
	if !errors.Is(err, rootless.IDSocketPathTooLong) || !isClear(err, "WithStateDir") {
		t.Errorf("Launch: %v, want %s", err, rootless.IDSocketPathTooLong)
	}
	if _, err := os.Stat(long); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the too-long state directory was created (%v)", err)
	}
}

// securityScenarios: unsafe set-ups are refused, and the daemon's files and environment give
// nothing away.
var securityScenarios = []scenario{
	{name: "state dir in /tmp", untouched: true, f: stateDirInTmp},
	{name: "state dir writable by others", untouched: true, f: stateDirOpen},
	{name: "socket and state dir modes", f: socketModes},
	{name: "TCP API without TLS", untouched: true, f: tcpWithoutTLS},
	{name: "root is refused", untouched: true, f: rootRefused},
	{name: "no secret of the caller's environment in the daemon's tree", f: envCanary},
}

func stateDirInTmp(t *testing.T, fx *fixture, row *faultRow) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	dir := "/tmp/rd-" + hex.EncodeToString(b[:])
	_, err := rootless.Launch(t.Context(), rootless.WithStateDir(dir), rootless.WithDataRoot(fx.data))
	row.Seen = short(err)
	if !errors.Is(err, rootless.IDStateDirUnsafe) || !isClear(err, "/tmp") {
		t.Errorf("Launch with a state dir in /tmp: %v, want %s", err, rootless.IDStateDirUnsafe)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		os.RemoveAll(dir)
		t.Errorf("%s was created before the refusal", dir)
	}
}

func stateDirOpen(t *testing.T, fx *fixture, row *faultRow) {
	base := testbed.ScratchDir(t, fx.bed, fx.stack, fx.bed.Self().Home)
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := rootless.Launch(t.Context(), rootless.WithStateDir(filepath.Join(open, "state")), rootless.WithDataRoot(fx.data))
	row.Seen = short(err)
	if !errors.Is(err, rootless.IDStateDirUnsafe) || !isClear(err) {
		t.Errorf("Launch in a directory everyone can write: %v, want %s", err, rootless.IDStateDirUnsafe)
	}
	group := filepath.Join(base, "group")
	if err := os.Mkdir(group, 0o770); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(group, 0o770)
	_, err = rootless.Launch(t.Context(), rootless.WithStateDir(group), rootless.WithDataRoot(fx.data))
	if !errors.Is(err, rootless.IDStateDirMode) && !errors.Is(err, rootless.IDStateDirUnsafe) || !isClear(err) {
		t.Errorf("Launch with a state dir open to the group: %v, want %s", err, rootless.IDStateDirMode)
	}
}

// socketModes: nothing of the running daemon is open to other users.
func socketModes(t *testing.T, fx *fixture, row *faultRow) {
	d, _ := launchLogged(t, fx.opts()...)
	info := d.Info()
	var checked []string
	for _, p := range []string{info.Paths.StateDir, info.Paths.Socket, info.Paths.RootlessKitStateDir,
		filepath.Join(info.Paths.RootlessKitStateDir, "api.sock"), info.Paths.ExecRoot, info.Paths.PIDFile} {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		// The state dir is private (0700), which protects all inside it; inside, others may
		// write nothing (a unix socket needs write permission to connect), and the API socket
		// (dockerd makes it 0660 with the group "docker" of the namespace's /etc/group) grants
		// others nothing, and its group is one of the user's: its own or a subordinate id.
		mode := os.FileMode(st.Mode & 0o777)
		switch {
		case int(st.Uid) != os.Getuid(),
			p == info.Paths.StateDir && mode != 0o700,
			mode&0o002 != 0,
			p == info.Paths.Socket && (mode&0o007 != 0 || !mappedGID(info.ChildPID, int(st.Gid))):
			t.Errorf("%s: owner %d:%d, mode %v; want the user's, the state dir 0700, nothing writable by others, the socket closed to them", p, st.Uid, st.Gid, mode)
		}
		if p == info.Paths.Socket {
			checked = append(checked, fmt.Sprintf("socket group %d", st.Gid))
		}
		checked = append(checked, fmt.Sprintf("%s %v", filepath.Base(p), mode))
	}
	if _, err := os.Stat(filepath.Join(info.Paths.StateDir, "rootlessd-probe.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the watchdog's hand-over socket outlived the start-up: %v", err)
	}
	row.Seen = strings.Join(checked, ", ")
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

// mappedGID reports whether gid is one of the host gids mapped into the namespace of pid: the
// user's own, or its subordinate range.
func mappedGID(pid, gid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/gid_map", pid))
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		var in, out, n int
		if _, err := fmt.Sscan(line, &in, &out, &n); err == nil && gid >= out && gid < out+n {
			return true
		}
	}
	return false
}

func tcpWithoutTLS(t *testing.T, fx *fixture, row *faultRow) {
	_, err := rootless.Launch(t.Context(), fx.opts(rootless.WithDockerdArgs("-H", "tcp://127.0.0.1:2375"))...)
	row.Seen = short(err)
	if !isClear(err, "--tlsverify", "tcp://127.0.0.1:2375") {
		t.Errorf("Launch with a TCP API without TLS: %v", err)
	}
}

// rootRefused runs the host program as root of a user namespace (unshare --map-root-user),
// as it would run inside a container: Launch refuses with the reason before touching anything.
func rootRefused(t *testing.T, fx *fixture, row *faultRow) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(fx.bed.Self().RuntimeDir, "rd-root-refused")
	raw, _ := json.Marshal(faultHostConfig{Bin: fx.stack.Bin, StateDir: state, DataRoot: fx.data})
	cmd := exec.Command("unshare", "--user", "--map-root-user", exe)
	cmd.Env = append(os.Environ(), envFaultHost+"="+string(raw))
	out, err := cmd.Output()
	row.Seen = strings.TrimSpace(string(out))
	if err == nil || !strings.Contains(string(out), "rootless.root") || !strings.Contains(string(out), "rootless mode is for unprivileged users") {
		t.Errorf("the host program as root: %v\n%s", err, out)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state directory was created before the refusal")
	}
}

// envCanary: a secret in the caller's environment reaches no process of the daemon's tree
// (NOTIFY_SOCKET neither); passed explicitly with WithEnviron, it reaches dockerd, which shows
// that the check can see it.
func envCanary(t *testing.T, fx *fixture, row *faultRow) {
	const canary = "ROOTLESSD_CANARY_SECRET=do-not-leak-7f3a"
	k, v, _ := strings.Cut(canary, "=")
	t.Setenv(k, v)
	t.Setenv("NOTIFY_SOCKET", "/run/user/0/canary-notify")
	scan := func(d *rootless.Daemon) (checked int, with []string) {
		for _, pid := range append([]int{d.PID()}, below(d.PID())...) {
			env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if err != nil {
				continue
			}
			checked++
			for _, kv := range strings.Split(string(env), "\x00") {
				if kv == canary || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
					exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
					with = append(with, fmt.Sprintf("%d %s has %s", pid, filepath.Base(exe), kv))
				}
			}
		}
		return checked, with
	}
	d, _ := launchLogged(t, fx.opts()...)
	cli := testbed.Client(t, d.Host())
	c, err := cli.ContainerCreate(t.Context(), &container.Config{Image: fx.bed.ImageTag, Cmd: []string{"sh", "-c", "sleep 600 & wait"}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	if err := cli.ContainerStart(t.Context(), c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	checked, leaks := scan(d)
	if checked < 6 || len(leaks) > 0 {
		t.Errorf("read the environment of %d processes of the tree; leaks: %v", checked, leaks)
	}
	_ = cli.ContainerRemove(t.Context(), c.ID, container.RemoveOptions{Force: true})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, _ := launchLogged(t, fx.opts(rootless.WithEnviron(os.Environ()))...)
	_, with := scan(d2)
	sawCanary, sawNotify := false, false
	for _, w := range with {
		sawCanary = sawCanary || strings.Contains(w, canary)
		sawNotify = sawNotify || strings.Contains(w, "NOTIFY_SOCKET")
	}
	if !sawCanary || sawNotify {
		t.Errorf("with WithEnviron the canary should reach the daemon and NOTIFY_SOCKET still not: %v", with)
	}
	row.Seen = fmt.Sprintf("the environments of %d processes (helper, RootlessKit's child, slirp4netns, dockerd, containerd, shim, container) hold neither the canary nor NOTIFY_SOCKET; with WithEnviron the canary reaches them", checked)
	if err := d2.Close(); err != nil {
		t.Error(err)
	}
}
