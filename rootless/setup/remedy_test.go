package setup

import (
	"os"
	"strings"
	"testing"
)

// TestRemedyPlans: each remedy is a root plan whose script is what Docker's documentation says,
// and nothing when the host already allows it. (Applying them needs root and changes the host:
// the integration tests do that, and undo it.)
func TestRemedyPlans(t *testing.T) {
	tr := newTree(t)
	tr.write("/proc/sys/net/ipv4/ping_group_range", "1\t0\n", 0o644)
	tr.write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "1024\n", 0o644)
	tr.program("/opt/app/launcher")
	tr.mkdir("/usr/local/bin")
	if err := os.Symlink("/opt/app/launcher", tr.path("/usr/local/bin/launcher")); err != nil {
		t.Fatal(err)
	}
	root := WithRoot(tr.root)

	ping, err := AllowPing(root)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := AllowPrivilegedPortsBySysctl(0, root)
	if err != nil {
		t.Fatal(err)
	}
	capPlan, err := AllowPrivilegedPortsByCapability("/opt/app/launcher", root)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, p := range []*Plan{ping, ports, capPlan} {
		if !p.Root {
			t.Errorf("not a root plan:\n%s", p)
		}
		all.WriteString(p.Script())
	}
	golden(t, "remedies.golden", all.String())

	// Symbolic links: the capability goes on the file itself.
	viaLink, err := AllowPrivilegedPortsByCapability("/usr/local/bin/launcher", root)
	if err != nil {
		t.Fatal(err)
	}
	if got := actionStrings(viaLink); got != "setcap cap_net_bind_service=ep /opt/app/launcher\n" {
		t.Errorf("through a link: %s", got)
	}

	tr.write("/proc/sys/net/ipv4/ping_group_range", "0\t2147483647\n", 0o644)
	tr.write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0\n", 0o644)
	for name, f := range map[string]func() (*Plan, error){
		"ping":  func() (*Plan, error) { return AllowPing(root) },
		"ports": func() (*Plan, error) { return AllowPrivilegedPortsBySysctl(80, root) },
	} {
		p, err := f()
		if err != nil || len(p.Actions) != 0 || len(p.Notes) == 0 {
			t.Errorf("%s, already allowed: %v %v\n%s", name, p, err, p)
		}
	}
	for _, bad := range []func() error{
		func() error { _, err := AllowPrivilegedPortsBySysctl(2000, root); return err },
		func() error { _, err := AllowPrivilegedPortsByCapability("launcher", root); return err },
		func() error { _, err := AllowPrivilegedPortsByCapability("/opt/app/missing", root); return err },
	} {
		if err := bad(); err == nil {
			t.Error("bad input accepted")
		}
	}
}
