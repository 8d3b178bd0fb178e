package setup

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// tree is a real file tree that stands for a host: paths are given as the host sees them.
type tree struct {
	t    *testing.T
	root string
}

func newTree(t *testing.T) *tree {
	t.Helper()
	return &tree{t: t, root: t.TempDir()}
}

func (tr *tree) path(p string) string { return filepath.Join(tr.root, p) }

func (tr *tree) write(p, data string, mode os.FileMode) {
	tr.t.Helper()
	if err := os.MkdirAll(filepath.Dir(tr.path(p)), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(tr.path(p), []byte(data), mode); err != nil {
		tr.t.Fatal(err)
	}
}

// program makes p an executable: a real shell script that does nothing.
func (tr *tree) program(p string) { tr.write(p, "#!/bin/sh\nexit 0\n", 0o755) }

func (tr *tree) read(p string) string {
	tr.t.Helper()
	b, err := os.ReadFile(tr.path(p))
	if err != nil {
		tr.t.Fatal(err)
	}
	return string(b)
}

func (tr *tree) exists(p string) bool {
	_, err := os.Lstat(tr.path(p))
	return err == nil
}

func (tr *tree) mkdir(p string) {
	tr.t.Helper()
	if err := os.MkdirAll(tr.path(p), 0o700); err != nil {
		tr.t.Fatal(err)
	}
}

// alice is the fixture user.
var alice = User{Name: "alice", UID: 1000, Home: "/home/alice", Env: []string{
	"HOME=/home/alice", "USER=alice", "PATH=/home/alice/node_modules/.bin:/usr/local/bin:/usr/bin:/bin",
}}

// bed is a host with Debian's docker.io in /usr/sbin and /usr/bin, a second engine stack in
// /opt/stack/bin, the launcher in /opt/rootlessd/bin, and the D-Bus user socket.
func bed(t *testing.T) *tree {
	tr := newTree(t)
	for _, p := range []string{"/usr/sbin/dockerd", "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/runc",
		"/usr/sbin/iptables", "/usr/bin/slirp4netns", "/usr/bin/newuidmap", "/usr/bin/newgidmap", "/usr/bin/nsenter",
		"/opt/stack/bin/dockerd", "/opt/stack/bin/containerd", "/opt/stack/bin/runc", "/opt/stack/bin/docker-proxy",
		"/opt/rootlessd/bin/launcher", "/usr/local/bin/docker"} {
		tr.program(p)
	}
	tr.write("/usr/lib/systemd/user/dbus.socket", "[Socket]\nListenStream=%t/bus\n", 0o644)
	tr.mkdir("/home/alice")
	tr.mkdir("/run/user/1000")
	return tr
}

func (tr *tree) opts(extra ...Option) []Option {
	return append([]Option{WithRoot(tr.root), WithUser(alice), WithLauncher("/opt/rootlessd/bin/launcher"),
		WithRunner(unreachableSystemd(tr))}, extra...)
}

// unreachableSystemd runs the real programs, in an environment where `systemctl --user` can
// reach no user manager on any host, and whose user configuration is the tree's: commands
// that need the manager fail for real, and those that work on files alone (enable, disable)
// work on the tree, never on the units of whoever runs the tests.
func unreachableSystemd(tr *tree) ExecRunner {
	return ExecRunner{Env: []string{"XDG_RUNTIME_DIR=/nonexistent-rootlessd-test", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent-rootlessd-test/bus",
		"HOME=" + tr.path("/home/alice"), "XDG_CONFIG_HOME=" + tr.path("/home/alice/.config")}}
}

// golden compares got with testdata/name, or rewrites it with -update. The tree's root is
// shown as $ROOT.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, unifiedDiff(path, "got", string(want), got))
	}
}

func actionStrings(p *Plan) string {
	var b strings.Builder
	for _, a := range p.Actions {
		b.WriteString(a.String())
		b.WriteString("\n")
	}
	return b.String()
}
