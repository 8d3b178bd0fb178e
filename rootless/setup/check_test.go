package setup

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
)

// TestCheckFindings: the checks of Docker's tool that rootless.Check does not make, on a file
// tree (WithRoot leaves rootless.Check out: it inspects this host).
func TestCheckFindings(t *testing.T) {
	tr := bed(t)
	if err := Check(t.Context(), tr.opts(WithSystemd(false))...); err != nil {
		t.Fatalf("a clean tree: %v", err)
	}
	tr.write("/var/run/docker.sock", "", 0o666) // writable, as a rootful daemon's socket for the docker group
	tr.mkdir("/run/systemd/system")             // systemd is init, but this session has no user manager
	tr.mkdir("/run/user/1000/containerd-rootless")
	err := Check(t.Context(), tr.opts(WithSystemd(false))...)
	ids := []diag.ID{}
	for _, f := range diag.List(err) {
		ids = append(ids, f.ID)
		if f.Severity != diag.Error || f.Fix == "" {
			t.Errorf("%v: want a blocking finding with a fix", f)
		}
	}
	for _, want := range []diag.ID{IDRootful, IDRuntimeDir, IDContainerdRL} {
		if !slices.Contains(ids, want) {
			t.Errorf("findings %v lack %s", ids, want)
		}
	}
	if !strings.Contains(err.Error(), "loginctl enable-linger alice") || !strings.Contains(err.Error(), "machinectl shell") {
		t.Errorf("the XDG_RUNTIME_DIR finding lacks Docker's remedy: %v", err)
	}
	err = Check(t.Context(), tr.opts(WithSystemd(false), WithForce(true))...)
	if errors.Is(err, IDRootful) {
		t.Errorf("WithForce still reports the rootful socket: %v", err)
	}
	if err := Check(t.Context(), tr.opts(WithUser(User{Name: "root", UID: 0, Home: "/root"}), WithSystemd(true), WithForce(true))...); !errors.Is(err, IDRoot) {
		t.Errorf("Check for root: %v", err)
	}
}
