package setup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitVerifies runs systemd's own checker on the unit and drop-in that Install writes, with
// every path real (systemd-analyze checks that ExecStart exists and is executable):
// `systemd-analyze --user verify` must accept them without a word. systemd-analyze works on
// plain files, without systemd as PID 1 (seen with Debian's systemd 252); --root does not
// support user units, so the tree here is the real file system under a temporary directory.
func TestUnitVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("ROOTLESSD_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("systemd-analyze not found (Debian: apt-get install systemd)")
		}
		t.Skip("systemd-analyze not found")
	}
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tr := &tree{t: t, root: "/"}
	for _, p := range []string{"stack/dockerd", "stack/containerd", "stack/runc", "bin/launcher"} {
		tr.program(filepath.Join(base, p))
	}
	u := User{Name: "alice", UID: 1000, Home: filepath.Join(base, "home"), Env: []string{"PATH=/usr/bin:/bin"}}
	for _, s := range []Settings{{}, settingsFixture(), {Net: "pasta", PortDriver: "implicit", RootlessKitFlags: []string{"-p", "0.0.0.0:2376:2376/tcp"},
		DockerdFlags: []string{"-H", "tcp://0.0.0.0:2376", "--tlsverify", "--tlscacert=/x/ca.pem"}, Env: []string{"HTTP_PROXY=http://proxy:3128/%41"}}} {
		p, err := Install(t.Context(), WithUser(u), WithSystemd(true), WithUpdate(true), WithLauncher(filepath.Join(base, "bin/launcher")),
			WithSearchPath(filepath.Join(base, "stack")), WithSettings(s), WithRunner(ExecRunner{}))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range p.Actions {
			if w, ok := a.(*WriteFile); ok {
				if err := w.apply(t.Context(), &applyEnv{root: "/"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		unitPath := filepath.Join(u.Home, ".config/systemd/user/docker.service")
		cmd := exec.Command(sa, "--user", "verify", "--man=no", unitPath)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify (%+v): %v\n%s\nunit:\n%s\ndrop-in:\n%s", s, err, out,
				tr.read(unitPath), tr.read(filepath.Join(u.Home, ".config/systemd/user/docker.service.d", DropIn)))
		}
	}
	// The checker must be able to fail: a unit whose program is missing.
	bad := filepath.Join(base, "bad.service")
	tr.write(bad, "[Service]\nExecStart="+filepath.Join(base, "missing")+"\nType=notify\n", 0o644)
	cmd := exec.Command(sa, "--user", "verify", "--man=no", bad)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("systemd-analyze accepted a unit with a missing program:\n%s", out)
	}
}
