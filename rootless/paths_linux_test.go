//go:build linux

package rootless

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/diag"
	"golang.org/x/sys/unix"
)

// env is a getenv over a map.
func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestResolveLayout(t *testing.T) {
	const uid, home = 1000, "/home/alice"
	xdg := map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}
	defaults := Paths{StateDir: "/run/user/1000/rootlessd", RootlessKitStateDir: "/run/user/1000/rootlessd/dockerd-rootless",
		Socket: "/run/user/1000/rootlessd/docker.sock", ExecRoot: "/run/user/1000/rootlessd/docker",
		PIDFile: "/run/user/1000/rootlessd/docker.pid", DataRoot: "/home/alice/.local/share/docker"}
	tests := []struct {
		name string
		opts []Option
		env  map[string]string
		home string
		want Paths
	}{
		{name: "XDG_RUNTIME_DIR", env: xdg, home: home, want: defaults},
		{name: "XDG_DATA_HOME", env: map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_DATA_HOME": "/data/alice"}, home: home,
			want: with(defaults, func(l *Paths) { l.DataRoot = "/data/alice/docker" })},
		{name: "relative XDG_DATA_HOME is ignored", env: map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_DATA_HOME": "data"}, home: home,
			want: defaults},
		{name: "no home but XDG_DATA_HOME", env: map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_DATA_HOME": "/data"},
			want: with(defaults, func(l *Paths) { l.DataRoot = "/data/docker" })},
		{name: "state dir option", opts: []Option{WithStateDir("/srv/rl")}, home: home, // XDG_RUNTIME_DIR not needed
			want: Paths{StateDir: "/srv/rl", RootlessKitStateDir: "/srv/rl/dockerd-rootless", Socket: "/srv/rl/docker.sock",
				ExecRoot: "/srv/rl/docker", PIDFile: "/srv/rl/docker.pid", DataRoot: defaults.DataRoot}},
		{name: "every path explicit", env: xdg, home: "", opts: []Option{WithStateDir("/s"), WithRootlessKitStateDir("/rk"),
			WithSocket("/d.sock"), WithExecRoot("/e"), WithPIDFile("/p.pid"), WithDataRoot("/data"), WithDaemonConfig("/c.json")},
			want: Paths{StateDir: "/s", RootlessKitStateDir: "/rk", Socket: "/d.sock", ExecRoot: "/e", PIDFile: "/p.pid", DataRoot: "/data", DaemonConfig: "/c.json"}},
		{name: "script env state dir", env: xdg, home: home,
			opts: []Option{WithScriptEnv([]string{EnvScriptStateDir + "=/run/user/1000/dockerd-rootless"})},
			want: with(defaults, func(l *Paths) { l.RootlessKitStateDir = "/run/user/1000/dockerd-rootless" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newConfig(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := resolveLayout(c, env(tt.env), hostFor(uid, tt.home))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("layout\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func with(l Paths, f func(*Paths)) Paths { f(&l); return l }

// TestResolveLayoutScriptCompatible: with the state directory at $XDG_RUNTIME_DIR, the layout is
// that of dockerd-rootless.sh and dockerd's rootless defaults (docker-rootless-scripts.md §1.2,
// §4.2), so tools that look there find the daemon.
func TestResolveLayoutScriptCompatible(t *testing.T) {
	const xdg = "/run/user/1000"
	c, _ := newConfig([]Option{WithStateDir(xdg)})
	l, err := resolveLayout(c, env(map[string]string{"XDG_RUNTIME_DIR": xdg}), hostFor(1000, "/home/alice"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ got, want, what string }{
		{l.Socket, xdg + "/docker.sock", "API socket (unix://$XDG_RUNTIME_DIR/docker.sock)"},
		{l.PIDFile, xdg + "/docker.pid", "pid file ($XDG_RUNTIME_DIR/docker.pid)"},
		{l.ExecRoot, xdg + "/docker", "exec root ($XDG_RUNTIME_DIR/docker)"},
		{l.RootlessKitStateDir, xdg + "/dockerd-rootless", "RootlessKit state dir ($XDG_RUNTIME_DIR/dockerd-rootless)"},
		{l.DataRoot, "/home/alice/.local/share/docker", "data root (~/.local/share/docker)"},
	} {
		if p.got != p.want {
			t.Errorf("%s: %s, want %s", p.what, p.got, p.want)
		}
	}
}

func TestResolveLayoutNoRuntimeDir(t *testing.T) {
	// A uid whose /run/user directory cannot exist on a test machine.
	const uid = 2147483600
	base := fmt.Sprintf("/run/user/%d", uid)
	if _, err := os.Stat(base); err == nil {
		t.Skipf("%s exists", base)
	}
	for _, tc := range []struct{ name, xdg, detail string }{
		{"unset", "", "XDG_RUNTIME_DIR is not set and " + base + " does not exist"},
		{"relative", "run/user/1000", `XDG_RUNTIME_DIR ("run/user/1000") is not absolute and ` + base + " does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newConfig(nil)
			_, err := resolveLayout(c, env(map[string]string{"XDG_RUNTIME_DIR": tc.xdg}), hostFor(uid, "/home/alice"))
			pe, ok := errors.AsType[*diag.Finding](err)
			if !ok || pe.ID != IDRuntimeDirMissing {
				t.Fatalf("err = %v, want a %s finding", err, IDRuntimeDirMissing)
			}
			if pe.Detail != tc.detail {
				t.Errorf("detail %q, want %q", pe.Detail, tc.detail)
			}
			if !strings.Contains(pe.Fix, "rootless.WithStateDir") || !strings.Contains(pe.Fix, "/home/alice/.docker/run") {
				t.Errorf("fix %q does not suggest WithStateDir under the home directory", pe.Fix)
			}
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("err does not wrap the stat error: %v", err)
			}
		})
	}
}

// TestResolveLayoutRunUser: without XDG_RUNTIME_DIR, an existing /run/user/UID is used.
func TestResolveLayoutRunUser(t *testing.T) {
	ents, _ := os.ReadDir("/run/user")
	for _, e := range ents {
		var uid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &uid); err != nil || !e.IsDir() {
			continue
		}
		c, _ := newConfig(nil)
		l, err := resolveLayout(c, env(nil), hostFor(uid, "/home/x"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "/run/user/" + e.Name() + "/rootlessd"; l.StateDir != want {
			t.Errorf("state dir %s, want %s", l.StateDir, want)
		}
		return
	}
	t.Skip("no /run/user/UID directory on this machine")
}

func TestResolveLayoutNoHome(t *testing.T) {
	for _, home := range []string{"", "relative/home"} {
		c, _ := newConfig([]Option{WithStateDir("/s")})
		_, err := resolveLayout(c, env(nil), hostFor(1000, home))
		if pe, ok := errors.AsType[*diag.Finding](err); !ok || pe.ID != IDDataRootNoHome || !strings.Contains(pe.Fix, "WithDataRoot") {
			t.Errorf("home %q: err = %v, want a %s finding suggesting WithDataRoot", home, err, IDDataRootNoHome)
		}
		c, _ = newConfig([]Option{WithStateDir("/s"), WithDataRoot("/data")})
		if _, err := resolveLayout(c, env(nil), hostFor(1000, home)); err != nil {
			t.Errorf("home %q with WithDataRoot: %v", home, err)
		}
	}
}

func TestSocketPathLimit(t *testing.T) {
	resolve := func(opts ...Option) error {
		t.Helper()
		c, err := newConfig(opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = resolveLayout(c, env(nil), hostFor(1000, "/home/alice"))
		return err
	}
	sock := func(n int) string { return "/" + strings.Repeat("s", n-len("/.sock")) + ".sock" }
	if err := resolve(WithStateDir("/run/user/1000/rootlessd"), WithSocket(sock(107))); err != nil {
		t.Errorf("a 107-byte socket path must fit: %v", err)
	}
	err := resolve(WithStateDir("/run/user/1000/rootlessd"), WithSocket(sock(108)))
	ps := diag.List(err)
	if len(ps) != 1 || ps[0].ID != IDSocketPathTooLong || !strings.Contains(ps[0].Detail, "is 108 bytes; unix sockets take at most 107") {
		t.Fatalf("a 108-byte socket path: %v, want one socket-path problem", err)
	}
	if !strings.Contains(ps[0].Fix, "WithStateDir") || !strings.Contains(ps[0].Fix, "WithSocket") {
		t.Errorf("fix %q does not name WithStateDir and WithSocket", ps[0].Fix)
	}

	// A long state directory breaks the API socket, RootlessKit's and containerd's at once.
	long := "/home/" + strings.Repeat("x", 100)
	ps = diag.List(resolve(WithStateDir(long)))
	if len(ps) != 3 {
		t.Fatalf("state dir of %d bytes: %d problems, want 3: %v", len(long), len(ps), ps)
	}
	for i, want := range []struct{ path, option string }{
		{long + "/docker.sock", "WithSocket"},
		{long + "/dockerd-rootless/", "WithRootlessKitStateDir"},
		{long + "/docker/containerd/", "WithExecRoot"},
	} {
		if ps[i].ID != IDSocketPathTooLong || !strings.Contains(ps[i].Detail, want.path) || !strings.Contains(ps[i].Fix, want.option) {
			t.Errorf("problem %d = %+v, want socket-path about %s naming %s", i, ps[i], want.path, want.option)
		}
	}
	// A state dir like t.TempDir()'s still fits.
	if err := resolve(WithStateDir("/tmp/TestSomethingRatherLongForATest1234567890/001")); err != nil {
		t.Errorf("a 52-byte state dir: %v", err)
	}
}

// privateTempDir returns a new directory none of whose ancestors every user can write to, which
// the state-directory checks require: t.TempDir() is usually under /tmp (mode 1777).
func privateTempDir(t *testing.T) string {
	t.Helper()
	var bases []string
	bases = append(bases, os.TempDir())
	if d, err := os.UserCacheDir(); err == nil {
		bases = append(bases, d)
	}
	if d, err := os.UserHomeDir(); err == nil {
		bases = append(bases, d)
	}
	for _, b := range bases {
		if worldWritableAncestor(b) != "" {
			continue
		}
		d, err := os.MkdirTemp(b, "rootless-test-")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	t.Skipf("every candidate directory (%q) has a world-writable ancestor", bases)
	return ""
}

func worldWritableAncestor(p string) string {
	for a := p; ; a = filepath.Dir(a) {
		if st, err := os.Stat(a); err == nil && st.Mode().Perm()&0o002 != 0 {
			return a
		}
		if a == "/" || a == "." {
			return ""
		}
	}
}

// mkdirMode makes dir with exactly mode, whatever the umask.
func mkdirMode(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestStateDirChecks(t *testing.T) {
	base := privateTempDir(t)
	uid := os.Getuid()
	ww := mkdirMode(t, filepath.Join(base, "shared"), 0o1777)      // like /tmp
	wwNoSticky := mkdirMode(t, filepath.Join(base, "open"), 0o777) // worse
	mkdirMode(t, filepath.Join(ww, "mine"), 0o700)
	open := mkdirMode(t, filepath.Join(base, "open-state"), 0o755)
	group := mkdirMode(t, filepath.Join(base, "group-state"), 0o750)
	other := mkdirMode(t, filepath.Join(base, "other-x"), 0o701)
	private := mkdirMode(t, filepath.Join(base, "private"), 0o700)
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		dir    string
		uid    int
		detail string // part of the PrereqError's Detail; "" means no error
		remedy string
		// checkPrivateDir only:
		createErr string // when it differs from the read-only check
		created   bool
	}{
		{name: "fresh", dir: filepath.Join(base, "a", "b", "state"), uid: uid, created: true},
		{name: "existing private", dir: private, uid: uid},
		{name: "under a sticky world-writable dir", dir: filepath.Join(ww, "state"), uid: uid,
			detail: "is inside " + ww + ", which every user can write to", remedy: "use a private directory"},
		{name: "deep under a world-writable dir", dir: filepath.Join(ww, "mine", "state"), uid: uid,
			detail: "is inside " + ww + ",", remedy: "use a private directory"},
		{name: "under a world-writable dir without sticky bit", dir: filepath.Join(wwNoSticky, "state"), uid: uid,
			detail: "is inside " + wwNoSticky + ",", remedy: "use a private directory"},
		{name: "mode 0755", dir: open, uid: uid, detail: open + " has mode 0755: other users can reach", remedy: "run: chmod 0700 " + open},
		{name: "mode 0750", dir: group, uid: uid, detail: "has mode 0750", remedy: "run: chmod 0700 " + group},
		{name: "mode 0701", dir: other, uid: uid, detail: "has mode 0701", remedy: "run: chmod 0700 " + other},
		{name: "owned by another user", dir: private, uid: uid + 1,
			detail: fmt.Sprintf("%s is owned by uid %d, not by you (%d)", private, uid, uid+1), remedy: "use a directory you own"},
		{name: "cannot be created", dir: filepath.Join(file, "state"), uid: uid,
			createErr: "cannot create " + filepath.Join(file, "state")},
	}
	t.Run("checkStateDirSafety", func(t *testing.T) {
		for _, tt := range tests {
			_, statErr := os.Stat(tt.dir)
			err := checkStateDirSafety(hostFor(tt.uid, "/home/x"), tt.dir)
			checkPrereq(t, tt.name, err, "rootless.state-dir", tt.detail, tt.remedy)
			if _, after := os.Stat(tt.dir); (statErr == nil) != (after == nil) {
				t.Errorf("%s: the read-only check created or removed %s", tt.name, tt.dir)
			}
		}
	})
	t.Run("checkPrivateDir", func(t *testing.T) {
		for _, tt := range tests {
			_, statErr := os.Stat(tt.dir)
			err := checkPrivateDir(tt.dir, tt.uid)
			detail := tt.detail
			if tt.createErr != "" {
				detail = tt.createErr
			}
			checkPrereq(t, tt.name, err, "rootless.state-dir", detail, tt.remedy)
			st, after := os.Stat(tt.dir)
			switch {
			case tt.created && after != nil:
				t.Errorf("%s: %s was not created: %v", tt.name, tt.dir, after)
			case tt.created && st.Mode().Perm() != 0o700:
				t.Errorf("%s: created with mode %04o, want 0700", tt.name, st.Mode().Perm())
			case !tt.created && (statErr == nil) != (after == nil):
				t.Errorf("%s: %s was created although it is refused", tt.name, tt.dir)
			}
		}
		for _, d := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b")} {
			if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
				t.Errorf("missing parent %s: %v, mode %v; want 0700", d, err, st.Mode().Perm())
			}
		}
	})
	if err := checkPrivateDir("relative/state", uid); err == nil { // must not loop forever either
		t.Error("checkPrivateDir accepted a relative path")
	}
}

// checkPrereq checks that err is nil (detail == "") or a finding whose ID starts with check and
// whose Detail and Fix contain detail and remedy.
func checkPrereq(t *testing.T, name string, err error, check, detail, remedy string) {
	t.Helper()
	if detail == "" {
		if err != nil {
			t.Errorf("%s: unexpected error: %v", name, err)
		}
		return
	}
	pe, ok := errors.AsType[*diag.Finding](err)
	switch {
	case !ok:
		t.Errorf("%s: err = %v, want a finding", name, err)
	case !strings.HasPrefix(string(pe.ID), check) || !strings.Contains(pe.Detail, detail) || !strings.Contains(pe.Fix, remedy):
		t.Errorf("%s: got %s / %q / %q, want %s / %q / %q", name, pe.ID, pe.Detail, pe.Fix, check, detail, remedy)
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), lockFile)
	first, err := lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if !lockedByOther(path) {
		t.Error("lockedByOther = false while the lock is held")
	}
	second, err := lock(path)
	// The holder is this process: flock conflicts between two open files of one process too.
	if want := fmt.Sprintf("process %d holds %s", os.Getpid(), path); !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), want) {
		t.Errorf("second lock: %v, want ErrAlreadyRunning saying %q", err, want)
	}
	if second != nil {
		t.Error("second lock returned a file")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if lockedByOther(path) {
		t.Error("lockedByOther = true after the lock was released")
	}
	third, err := lock(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	third.Close()
	if lockedByOther(filepath.Join(t.TempDir(), "missing")) {
		t.Error("lockedByOther = true for a missing file")
	}
	if _, err := lock(filepath.Join(t.TempDir(), "missing", "lock")); err == nil || errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("lock in a missing directory: %v, want a plain error", err)
	}
}

// TestInUseNamesWhat (regression, issue 14): a data-root lock conflict was worded as if the
// state directory were in use. Each conflict names its own directory, the process holding the
// lock and the option that avoids it.
func TestInUseNamesWhat(t *testing.T) {
	dir := t.TempDir()
	held, err := lock(filepath.Join(dir, dataLockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, lerr := lock(filepath.Join(dir, dataLockFile))
	for _, tt := range []struct{ kind, option, not string }{
		{"data root", "WithDataRoot", "state directory"},
		{"state directory", "WithStateDir", "data root"},
	} {
		err := inUse(tt.kind, dir, tt.option, lerr)
		msg := err.Error()
		want := fmt.Sprintf("the %s %s is in use by another daemon (process %d holds its lock %s)", tt.kind, dir, os.Getpid(), filepath.Join(dir, dataLockFile))
		if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(msg, want) || !strings.Contains(msg, tt.option) || strings.Contains(msg, tt.not) {
			t.Errorf("%s: %q\nwant ErrAlreadyRunning with %q and %s, without %q", tt.kind, msg, want, tt.option, tt.not)
		}
	}
}

func TestParseLocks(t *testing.T) {
	const locks = `1: OFDLCK ADVISORY  READ -1 fe:00:884764 100 100
2: FLOCK  ADVISORY  WRITE 25832 fe:00:950293 0 EOF
2: -> FLOCK  ADVISORY  WRITE 777 fe:00:950293 0 EOF
3: POSIX  ADVISORY  WRITE 99 fe:00:111 0 EOF
4: FLOCK  ADVISORY  WRITE 4242 103:02:111 0 EOF
`
	for _, tt := range []struct {
		major, minor uint32
		ino          uint64
		want         int
	}{
		{0xfe, 0, 950293, 25832},
		{0x103, 2, 111, 4242},
		{0xfe, 0, 111, 4242}, // the POSIX lock is not ours; the inode's only FLOCK is
		{0xfe, 1, 950293, 25832},
		{0xfe, 0, 12345, 0},
	} {
		if got := parseLocks(locks, tt.major, tt.minor, tt.ino); got != tt.want {
			t.Errorf("parseLocks(%x:%x:%d) = %d, want %d", tt.major, tt.minor, tt.ino, got, tt.want)
		}
	}
}

// staleLayout is a layout in a fresh directory, with a pid file and nothing else.
func staleLayout(t *testing.T) Paths {
	t.Helper()
	d := t.TempDir()
	l := Paths{StateDir: d, RootlessKitStateDir: filepath.Join(d, "rk"), Socket: filepath.Join(d, "docker.sock"), PIDFile: filepath.Join(d, "docker.pid")}
	if err := os.Mkdir(l.RootlessKitStateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.PIDFile, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

// listen makes a unix socket at path; closing the listener leaves the socket file behind, as a
// killed daemon does.
func listen(t *testing.T, path string) *net.UnixListener {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	t.Cleanup(func() { ln.Close() })
	return ln
}

func exists(path string) bool { _, err := os.Lstat(path); return err == nil }

func TestCleanStale(t *testing.T) {
	t.Run("stale socket and pid file", func(t *testing.T) {
		l := staleLayout(t)
		listen(t, l.Socket).Close()
		if !exists(l.Socket) {
			t.Fatal("the test socket vanished on close")
		}
		if err := l.cleanStale(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if exists(l.Socket) || exists(l.PIDFile) {
			t.Errorf("left behind: socket %v, pid file %v", exists(l.Socket), exists(l.PIDFile))
		}
	})
	t.Run("live socket", func(t *testing.T) {
		l := staleLayout(t)
		listen(t, l.Socket)
		err := l.cleanStale(100 * time.Millisecond)
		if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), "answers on "+l.Socket) {
			t.Errorf("err = %v, want ErrAlreadyRunning naming the socket", err)
		}
		if !exists(l.Socket) || !exists(l.PIDFile) {
			t.Error("a live daemon's files were removed")
		}
	})
	// A relaunch right after a SIGKILL of the host program meets the old tree still dying:
	// its socket answers for a moment, and is then stale.
	t.Run("socket of a dying tree", func(t *testing.T) {
		l := staleLayout(t)
		ln := listen(t, l.Socket)
		time.AfterFunc(300*time.Millisecond, func() { ln.Close() })
		if err := l.cleanStale(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if exists(l.Socket) {
			t.Error("the dead tree's socket is left")
		}
	})
	t.Run("running RootlessKit", func(t *testing.T) {
		l := staleLayout(t)
		f, err := lock(filepath.Join(l.RootlessKitStateDir, "lock"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		listen(t, l.Socket).Close()
		err = l.cleanStale(100 * time.Millisecond)
		if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), l.RootlessKitStateDir) {
			t.Errorf("err = %v, want ErrAlreadyRunning naming %s", err, l.RootlessKitStateDir)
		}
		if !exists(l.Socket) || !exists(l.PIDFile) {
			t.Error("files of a running RootlessKit were removed")
		}
	})
	t.Run("RootlessKit lock left by a dead process", func(t *testing.T) {
		l := staleLayout(t)
		if err := os.WriteFile(filepath.Join(l.RootlessKitStateDir, "lock"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := l.cleanStale(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	})
	// Regression (issue 14): a SIGKILLed host program left the engine's spec file (with
	// dockerd's environment) and the watchdog's hand-over socket in the state directory.
	t.Run("spec file and hand-over socket of a killed host", func(t *testing.T) {
		l := staleLayout(t)
		spec := filepath.Join(l.StateDir, ".rootlessd-engine-1270674799.json")
		if err := os.WriteFile(spec, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		probe := filepath.Join(l.StateDir, probeSocketFile)
		listen(t, probe).Close()
		keep := filepath.Join(l.StateDir, "mine.json")
		if err := os.WriteFile(keep, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := l.cleanStale(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if exists(spec) || exists(probe) || !exists(keep) {
			t.Errorf("spec file %v, hand-over socket %v, unrelated file %v", exists(spec), exists(probe), exists(keep))
		}
	})
	t.Run("nothing to clean", func(t *testing.T) {
		d := t.TempDir()
		l := Paths{RootlessKitStateDir: filepath.Join(d, "rk"), Socket: filepath.Join(d, "s.sock"), PIDFile: filepath.Join(d, "p.pid")}
		if err := l.cleanStale(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCheckDataRoot(t *testing.T) {
	// An NFS mount cannot be made in a unit test (it needs root and a server), so the refusal
	// itself is not exercised here; what is tested is that the check looks at the right file
	// system: the directory's own, or its nearest existing ancestor's.
	dir := t.TempDir()
	var want unix.Statfs_t
	if err := unix.Statfs(dir, &want); err != nil {
		t.Fatal(err)
	}
	onNFS := want.Type == nfsMagic
	for _, p := range []string{dir, filepath.Join(dir, "not", "yet", "there"), dir + "/x/../y"} {
		got, fs, err := statfsExisting(p)
		if err != nil || got != dir || fs.Type != want.Type || fs.Fsid != want.Fsid {
			t.Errorf("statfsExisting(%s) = %s, type %#x, %v; want %s, type %#x", p, got, fs.Type, err, dir, want.Type)
		}
		if err := checkDataRoot(hostFor(os.Getuid(), "/home/x"), p); (err != nil) != onNFS {
			t.Errorf("checkDataRoot(%s) = %v on file system type %#x", p, err, want.Type)
		}
	}
	// Below a regular file: the walk stops at ENOTDIR and the check passes (dockerd will fail
	// with a clearer message than we could give).
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := statfsExisting(filepath.Join(file, "docker")); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("under a file: %v, want ENOTDIR", err)
	}
	if err := checkDataRoot(hostFor(os.Getuid(), "/home/x"), filepath.Join(file, "docker")); err != nil {
		t.Errorf("under a file: %v", err)
	}
	// "/" exists everywhere: the walk ends there at the latest.
	if got, _, err := statfsExisting("/no-such-dir-for-rootless-tests/a/b"); err != nil || got != "/" {
		t.Errorf("statfsExisting below / = %s, %v; want /", got, err)
	}
}

// hostFor is this machine as seen by a user with uid and home.
func hostFor(uid int, home string) *host {
	h := localHost("/usr/local/bin:/usr/bin:/bin")
	h.uid, h.home = uid, home
	return h
}

// TestFileLocked: the quick lock test meets a flock and a record lock that another open file
// description holds (this process's own, here), and finds nothing on a free or missing file.
func TestFileLocked(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meta.db")
	if err := os.WriteFile(p, []byte("bolt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fileLocked(p) {
		t.Error("a file nobody locks is reported locked")
	}
	if fileLocked(p + ".missing") {
		t.Error("a missing file is reported locked")
	}
	hold := func(lock func(fd int) error) func() {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := lock(int(f.Fd())); err != nil {
			t.Fatal(err)
		}
		return func() { f.Close() }
	}
	for name, lock := range map[string]func(fd int) error{
		"flock":        func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) },
		"shared flock": func(fd int) error { return unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB) },
		"record lock": func(fd int) error {
			return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &unix.Flock_t{Type: unix.F_WRLCK})
		},
		"a read record": func(fd int) error {
			return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &unix.Flock_t{Type: unix.F_RDLCK})
		},
	} {
		release := hold(lock)
		if !fileLocked(p) {
			t.Errorf("%s: not seen", name)
		}
		release()
		if fileLocked(p) {
			t.Errorf("%s: still seen after its file was closed", name)
		}
	}
}
