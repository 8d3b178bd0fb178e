//go:build integration

package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless/setup"
)

// TestSSH is the seed's `docker -H ssh://user@host`: the real docker CLI, through a real sshd
// on a loopback port with the test user's key, reaches the rootless daemon. Docker's ssh helper
// runs `docker system dial-stdio` on the remote side, in a session with neither DOCKER_HOST nor
// (without pam_systemd) XDG_RUNTIME_DIR. What makes it find the daemon is the current CLI
// context that setup.Install writes to the user's ~/.docker: without it the remote CLI tries
// /var/run/docker.sock; with it, the rootless socket.
func TestSSH(t *testing.T) {
	bed := testbed.Require(t)
	stack := bed.Stacks[len(bed.Stacks)-1]
	u := bed.Self()
	d := launch(t, bed, stack)
	testbed.LoadImage(t, testbed.Client(t, d.Host()), bed)

	// The client side: its own key, known_hosts and ssh config, through a wrapper that only
	// adds -F to the real ssh (OpenSSH reads ~/.ssh from the passwd entry, not from HOME).
	dir := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rootlessd-test", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	lines := strings.SplitN(testbed.AsRoot(t, "sshd", u.Name, key+".pub"), "\n", 2)
	port, hostKey := lines[0], lines[1]
	t.Cleanup(func() { waitNoSSHSession(t, u.UID) }) // before the sshd goes, even when the test failed
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	known := write("known_hosts", "[127.0.0.1]:"+port+" "+hostKey+"\n", 0o600)
	config := write("ssh_config", "Host 127.0.0.1\n  Port "+port+"\n  IdentityFile "+key+"\n  IdentitiesOnly yes\n"+
		"  UserKnownHostsFile "+known+"\n  StrictHostKeyChecking yes\n  BatchMode yes\n", 0o600)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o700); err != nil {
		t.Fatal(err)
	}
	write("bin/ssh", "#!/bin/sh\nexec /usr/bin/ssh -F "+config+" \"$@\"\n", 0o700)
	remote := "ssh://" + u.Name + "@127.0.0.1:" + port
	docker := func(args ...string) (string, error) {
		cmd := reaped(append([]string{"/usr/local/bin/docker", "-H", remote}, args...)...)
		cmd.Env = []string{envReaper + "=1", "HOME=" + u.Home, "PATH=" + filepath.Join(dir, "bin") + ":" + testbed.SystemPath, "DOCKER_CONFIG=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	// The user's real ~/.docker, as the remote side reads it; put back as it was.
	dockerDir := filepath.Join(u.Home, ".docker")
	_, statErr := os.Stat(dockerDir)
	hadDockerDir := statErr == nil
	t.Cleanup(func() {
		if !hadDockerDir {
			_ = os.RemoveAll(dockerDir)
		}
	})
	user := setup.User{Name: u.Name, UID: u.UID, Home: u.Home, Env: []string{"HOME=" + u.Home, "PATH=" + testbed.SystemPath, "XDG_RUNTIME_DIR=" + u.RuntimeDir}}
	opts := []setup.Option{setup.WithUser(user), setup.WithSystemd(false), setup.WithLauncher(example(t, "launcher")),
		setup.WithSearchPath(stack.Bin), setup.WithSettings(setup.Settings{DockerdFlags: []string{"-H", d.Host()}})}
	if existing, _ := os.ReadFile(filepath.Join(dockerDir, "config.json")); strings.Contains(string(existing), `"currentContext"`) {
		t.Fatalf("%s/config.json names a current context already; this test would change it:\n%s", dockerDir, existing)
	}

	// The seed's check, `ssh -l USER HOST 'echo $DOCKER_HOST'`: empty there, so the remote CLI
	// goes by its current context, which is "default" (/var/run/docker.sock) before the setup.
	sshRun := func(command string) string {
		cmd := reaped(filepath.Join(dir, "bin", "ssh"), "-l", u.Name, "127.0.0.1", command)
		out, _ := cmd.CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	remoteCheck := `echo "DOCKER_HOST=$DOCKER_HOST XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"; docker context show; docker version --format '{{.Server.Version}}' 2>&1 | tail -1`
	before := sshRun(remoteCheck)
	t.Logf("remote side before the setup:\n%s", before)
	if !strings.Contains(before, "DOCKER_HOST= ") || !strings.Contains(before, "\ndefault\n") || !strings.Contains(before, "/var/run/docker.sock") {
		t.Fatalf("the remote session should have no DOCKER_HOST and the default context:\n%s", before)
	}
	if out, err := docker("version", "--format", "{{.Server.Version}}"); err == nil {
		t.Fatalf("docker -H ssh:// works before the setup made the context current: %s", out)
	}

	p, err := setup.Install(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		un, err := setup.Uninstall(t.Context(), opts...)
		if err == nil {
			err = un.Apply(t.Context(), nil)
		}
		if err != nil {
			t.Errorf("uninstall the context: %v", err)
		}
	})
	t.Logf("remote side after the setup:\n%s", sshRun(remoteCheck))
	out, err := docker("version", "--format", "{{.Server.Version}}")
	if err != nil || out == "" {
		t.Fatalf("docker -H %s version: %v\n%s", remote, err, out)
	}
	if info, err := docker("info", "--format", "{{.SecurityOptions}}"); err != nil || !strings.Contains(info, "name=rootless") {
		t.Errorf("docker -H ssh:// info: %v %s", err, info)
	}
	if echo, err := docker("run", "--rm", bed.ImageTag, "/bin/busybox", "echo", "over-ssh"); err != nil || echo != "over-ssh" {
		t.Errorf("docker -H ssh:// run: %v %q", err, echo)
	}
	t.Logf("over %s: dockerd %s", remote, out)
	// The sessions end with the CLI; their processes (sshd's, as this user) go with them.
	waitNoSSHSession(t, u.UID)
}

func waitNoSSHSession(t *testing.T, uid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left := false
		for _, p := range testbed.ProcessesOf(uid) {
			left = left || strings.HasPrefix(p.Cmdline, "sshd:")
		}
		if !left {
			return
		}
		if time.Now().After(deadline) {
			t.Error(errors.New("an sshd session of the test user is still there 30s after the CLI exited"))
			return
		}
	}
}
