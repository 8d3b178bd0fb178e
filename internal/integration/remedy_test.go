//go:build integration

package integration

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
	"github.com/rootlessd/rootlessd/rootless/setup"
)

// cli runs the real docker CLI against host.
func cli(t *testing.T, host string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "/usr/local/bin/docker", args...)
	cmd.Env = []string{"HOME=" + os.Getenv("HOME"), "PATH=" + testbed.SystemPath, "DOCKER_HOST=" + host,
		"DOCKER_CONFIG=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// remedyScript is what the package gives a user without root: the plan, which Apply refuses
// with the script to run with sudo.
func remedyScript(t *testing.T, p *setup.Plan, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Actions) == 0 {
		t.Skipf("the host allows it already: %v", p.Notes)
	}
	aerr := p.Apply(t.Context(), nil)
	nre, ok := errors.AsType[*setup.NeedsRootError](aerr)
	if !ok || !errors.Is(aerr, setup.ErrNeedsRoot) || nre.Script != p.Script() || rootless.Remedy(aerr) != p.Script() {
		t.Fatalf("Apply without root: %v; want a NeedsRootError with the plan's script", aerr)
	}
	return nre.Script
}

// TestPrivilegedPorts: `docker run -p 127.0.0.1:80:80` fails on this host, works after each of
// the seed's remedies applied by root (the sysctl through Plan.Apply; setcap through the exact
// script a user without root gets, on the program that binds for the embedded engine: the
// host program itself), and the host is put back after each.
func TestPrivilegedPorts(t *testing.T) {
	bed := testbed.Require(t)
	stack := bed.Stacks[len(bed.Stacks)-1]
	run80 := func(t *testing.T, d *rootless.Daemon) error {
		t.Helper()
		id, err := cli(t, d.Host(), "run", "-d", "-p", "127.0.0.1:80:80", bed.ImageTag, "/bin/probe", "http")
		if err != nil {
			return fmt.Errorf("%v: %s", err, id)
		}
		t.Cleanup(func() { _, _ = cli(t, d.Host(), "rm", "-f", id) })
		if body := testbed.Get(t, "http://127.0.0.1:80/", time.Minute); body != testbed.ProbeBody {
			return fmt.Errorf("GET :80: %q", body)
		}
		return nil
	}
	t.Run("refused", func(t *testing.T) {
		d := launch(t, bed, stack)
		testbed.LoadImage(t, testbed.Client(t, d.Host()), bed)
		err := run80(t, d)
		if err == nil {
			t.Skip("this host lets users bind port 80 already")
		}
		if !strings.Contains(err.Error(), "privileged port") {
			t.Errorf("docker run -p 80 failed, but not for the privileged port: %v", err)
		}
	})
	t.Run("sysctl", func(t *testing.T) {
		plan, err := setup.AllowPrivilegedPortsBySysctl(0)
		remedyScript(t, plan, err) // the non-root side: the script, for the record
		out := testbed.AsRoot(t, "remedy", "ports-sysctl", "apply")
		t.Logf("as root:\n%s", out)
		if v, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); strings.TrimSpace(string(v)) != "0" {
			t.Fatalf("ip_unprivileged_port_start is %s after the remedy", v)
		}
		d := launch(t, bed, stack)
		testbed.LoadImage(t, testbed.Client(t, d.Host()), bed)
		if err := run80(t, d); err != nil {
			t.Fatalf("docker run -p 80:80 after the sysctl: %v", err)
		}
	})
	for _, stack := range bed.Stacks {
		t.Run("setcap/"+stack.Name, func(t *testing.T) {
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			plan, err := setup.AllowPrivilegedPortsByCapability(self)
			script := remedyScript(t, plan, err)
			if !strings.Contains(script, "setcap cap_net_bind_service=ep "+self) {
				t.Fatalf("script:\n%s", script)
			}
			if v, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); strings.TrimSpace(string(v)) == "0" {
				t.Fatal("ip_unprivileged_port_start is 0: the sysctl remedy was not undone, so the capability proves nothing")
			}
			testbed.AsRoot(t, "remedy", "ports-cap", "script", script)
			d := launch(t, bed, stack) // the engine's helper is this binary, started after setcap
			testbed.LoadImage(t, testbed.Client(t, d.Host()), bed)
			if err := run80(t, d); err != nil {
				t.Fatalf("docker run -p 80:80 with cap_net_bind_service on %s: %v", self, err)
			}
		})
	}
}

// TestPing: ping from a container to this host's address goes through slirp4netns, which sends
// it with an unprivileged ICMP socket: refused with ping_group_range "1 0", answered after the
// seed's remedy, run by root from the exact script a user without root gets.
func TestPing(t *testing.T) {
	bed := testbed.Require(t)
	stack := bed.Stacks[len(bed.Stacks)-1]
	target := hostAddress(t)
	d := launch(t, bed, stack)
	testbed.LoadImage(t, testbed.Client(t, d.Host()), bed)
	ping := func() (string, error) {
		return cli(t, d.Host(), "run", "--rm", bed.ImageTag, "/bin/ping", "-c", "1", "-W", "5", target)
	}
	plan, err := setup.AllowPing()
	script := remedyScript(t, plan, err)
	if !strings.Contains(script, "net.ipv4.ping_group_range = 0 2147483647") {
		t.Fatalf("script:\n%s", script)
	}
	out, err := ping()
	if err == nil {
		t.Fatalf("ping to %s works with ping_group_range \"1 0\", so this test cannot see the remedy: %s", target, out)
	}
	t.Logf("before: %v: %s", err, out)
	t.Logf("as root:\n%s", testbed.AsRoot(t, "remedy", "ping", "script", script))
	out, err = ping()
	if err != nil || !strings.Contains(out, "1 packets received") {
		t.Fatalf("ping %s after the remedy: %v\n%s", target, err, out)
	}
	t.Logf("after: %s", out)
}

// hostAddress is a global IPv4 address of this host, which slirp4netns forwards to.
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("this host has no global IPv4 address to ping")
	return ""
}
