package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/rootless/setup"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// alice is the user the tool runs for: a fixture, so that the tests can run as root (as CI
// runs the unit tests) and print the same paths on every machine.
var alice = setup.User{Name: "alice", UID: 1000, Home: "/home/alice", Env: []string{"HOME=/home/alice", "PATH=/usr/local/bin:/usr/bin:/bin"}}

// tree is a real file tree for --root: Debian's docker.io, a second stack, the launcher.
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range []string{"/usr/sbin/dockerd", "/usr/bin/containerd", "/usr/bin/runc", "/usr/sbin/iptables", "/usr/bin/slirp4netns",
		"/opt/stack/bin/dockerd", "/opt/stack/bin/containerd", "/opt/stack/bin/runc", "/opt/stack/bin/docker-proxy",
		"/opt/rootlessd/bin/launcher", "/usr/local/bin/docker"} {
		write(t, root, p, "#!/bin/sh\nexit 0\n", 0o755)
	}
	write(t, root, "/usr/lib/systemd/user/dbus.socket", "[Socket]\nListenStream=%t/bus\n", 0o644)
	if err := os.MkdirAll(filepath.Join(root, "run/user/1000"), 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}

func write(t *testing.T, root, p, data string, mode os.FileMode) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// runTool runs the command in-process and returns its exit status and output, with the tree's
// path shown as $ROOT.
func runTool(t *testing.T, root string, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, alice, &out, &errOut)
	s := "$ setuptool " + strings.Join(args, " ") + "\n" + out.String()
	if errOut.Len() > 0 {
		s += "--- stderr\n" + errOut.String()
	}
	if root != "" {
		s = strings.ReplaceAll(s, root, "$ROOT")
	}
	return code, s
}

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
		t.Errorf("%s differs (go test -update rewrites it)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func TestUsage(t *testing.T) {
	code, out := runTool(t, "", "--help")
	if code != exitOK {
		t.Errorf("--help: exit %d", code)
	}
	golden(t, "usage.golden", out)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "No command was specified"},
		{[]string{"frobnicate"}, exitUsage, "Unknown command: frobnicate"},
		{[]string{"--bogus", "check"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"--systemd", "maybe", "install"}, exitUsage, `--systemd "maybe"`},
		{[]string{"install", "extra"}, exitUsage, "install takes no arguments"},
		{[]string{"--mtu", "9", "--launcher", "/x", "install"}, exitFailed, "MTU 9"},
		{[]string{"--launcher", "relative", "install"}, exitRequirements, "not an absolute path"},
	} {
		code, out := runTool(t, "", tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%q: exit %d, want %d; output lacks %q:\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
}

// TestDryRun: --dry-run prints every file with its full text and every command, for both kinds
// of host, and changes nothing; options may follow the command, as with GNU getopt.
func TestDryRun(t *testing.T) {
	root := tree(t)
	common := []string{"--root", root, "--launcher", "/opt/rootlessd/bin/launcher", "--path", "/opt/stack/bin"}
	var all strings.Builder
	for _, args := range [][]string{
		append(append([]string{"--dry-run", "--systemd=yes"}, common...), "--net", "slirp4netns", "--mtu", "1500",
			"--port-driver", "slirp4netns", "--dockerd-flags", "--iptables=false --debug", "--env", "TZ=UTC", "install"),
		append(append([]string{"install", "--dry-run", "--systemd=no"}, common...), "--net", "gvisor-tap-vsock"),
		{"--dry-run", "--systemd=yes", "--root", root, "uninstall"},
		{"--dry-run", "--systemd=yes", "--root", root, "rm"},
	} {
		code, out := runTool(t, root, args...)
		if code != exitOK {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		all.WriteString(out)
		all.WriteString("\n")
	}
	golden(t, "dry-run.golden", all.String())
	if entries, _ := os.ReadDir(filepath.Join(root, "home")); len(entries) != 0 {
		t.Errorf("--dry-run wrote files: %v", entries)
	}
}

// TestInstallWithoutSystemd installs for real into the tree (no command runs without
// systemd), then finds everything up to date, then reports drift with exit status 4.
func TestInstallWithoutSystemd(t *testing.T) {
	root := tree(t)
	args := []string{"--root", root, "--systemd=no", "--launcher", "/opt/rootlessd/bin/launcher", "install"}
	code, out := runTool(t, root, args...)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if code, again := runTool(t, root, args...); code != exitOK || !strings.Contains(again, `CLI context "rootless" already exists`) {
		t.Errorf("second install: exit %d\n%s", code, again)
	}
	code, un := runTool(t, root, "--root", root, "--systemd=no", "uninstall")
	if code != exitOK {
		t.Fatalf("uninstall: exit %d\n%s", code, un)
	}
	golden(t, "install-manual.golden", out+"\n"+un)
	if code, out := runTool(t, root, args...); code != exitOK {
		t.Fatalf("install again: exit %d\n%s", code, out)
	}

	sd := []string{"--root", root, "--systemd=yes", "--launcher", "/opt/rootlessd/bin/launcher", "--dry-run", "install"}
	if code, out := runTool(t, root, sd...); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// A unit from elsewhere (Docker's tool) is drift, shown and left alone.
	unit := "/home/alice/.config/systemd/user/docker.service"
	write(t, root, unit, "[Unit]\nDescription=Docker Application Container Engine (Rootless)\n\n[Service]\nExecStart=/usr/bin/dockerd-rootless.sh\n", 0o644)
	code, out = runTool(t, root, sd...)
	if code != exitDrift || !strings.Contains(out, "-ExecStart=/usr/bin/dockerd-rootless.sh") {
		t.Errorf("drift: exit %d, want %d\n%s", code, exitDrift, out)
	}
	code, out = runTool(t, root, "--root", root, "--systemd=yes", "--launcher", "/opt/rootlessd/bin/launcher", "install")
	if code != exitDrift || !strings.Contains(out, "Nothing was changed") {
		t.Errorf("install over drift: exit %d, want %d\n%s", code, exitDrift, out)
	}
	if b, _ := os.ReadFile(filepath.Join(root, unit)); !strings.Contains(string(b), "dockerd-rootless.sh") {
		t.Errorf("the drifted unit was changed:\n%s", b)
	}
	code, out = runTool(t, root, "--root", root, "--systemd=yes", "--update", "--launcher", "/opt/rootlessd/bin/launcher", "install")
	if code != exitUsage || !strings.Contains(out, "would run on this host") {
		t.Errorf("--root with systemctl commands: exit %d\n%s", code, out)
	}
}
