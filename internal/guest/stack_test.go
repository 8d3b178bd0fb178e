//go:build guest

package guest

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

// guestAddr is the guest's address on its (restricted) qemu network: a client address that is
// not loopback, for the source-IP tests.
const guestAddr = "10.0.2.15"

// TestDebianScript runs Debian 13's own dockerd-rootless.sh (docker.io 26.1 with rootlesskit
// 2.0.2), the anchor Launch replaces: it serves a published port, uses the systemd cgroup driver
// on cgroup v2, and enforces the same limits as Launch's daemons (TestCgroupLimits).
func TestDebianScript(t *testing.T) {
	bed := testbed.RequireGuest(t)
	script := testbed.StartScript(t, bed, stack(t, bed), "DBUS_SESSION_BUS_ADDRESS="+userBus())
	t.Logf("dockerd-rootless.sh ready in %v", script.Ready.Round(time.Millisecond))
	cli, _ := testbed.ServeProbe(t, bed, script.Host)
	info, err := cli.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dockerd-rootless.sh: docker %s, %s, cgroup driver %s v%s, %v", info.ServerVersion, info.Driver, info.CgroupDriver, info.CgroupVersion, info.SecurityOptions)
	if !strings.HasPrefix(info.ServerVersion, "26.1.") || info.CgroupDriver != "systemd" || info.CgroupVersion != "2" ||
		!slices.Contains(info.SecurityOptions, "name=rootless") {
		t.Errorf("docker %s, cgroup driver %q v%q, %v; want 26.1.x, systemd, 2, name=rootless", info.ServerVersion, info.CgroupDriver, info.CgroupVersion, info.SecurityOptions)
	}
	checkLimits(t, cli, bed)
	t.Logf("nf_tables loaded after the daemons ran: %v", moduleLoaded(t, "nf_tables"))
}

// TestDriverCombinations runs `docker run -p` and a GET through the published port for every
// network and port driver pair this guest can run: on Debian's rootlesskit 2.0.2 where it has the
// pair, else on the embedded RootlessKit v3 (gvisor-tap-vsock), and pasta+implicit on both, where
// the default pair, slirp4netns+builtin, is TestCgroupLimits' on both engines; with
// slirp4netns's port driver and pasta+implicit the container must also see the client's real
// address (WithSourceIP). Check decides what the guest can run; a pair it refuses must say why,
// the pairs this guest has everything for must not be refused, and external pasta+implicit is
// refused for the reason seen when it ran (trixie's pasta is new enough, its docker proxy is not).
func TestDriverCombinations(t *testing.T) {
	bed := testbed.RequireGuest(t)
	mustRun := map[string]bool{
		"external/slirp4netns+slirp4netns": true, "embedded/none+builtin": true, "embedded/pasta+builtin": true,
		"embedded/gvisor-tap-vsock+builtin": true, "embedded/gvisor-tap-vsock+gvisor-tap-vsock": true,
	}
	// Refused for a real reason: Debian 13's dockerd 26 publishes through its
	// rootlesskit-docker-proxy, which fails with the implicit port driver of rootlesskit 2.0.2
	// ("no port driver is available"; a GET through the port timed out when this pair ran).
	mustRefuse := map[string]diag.ID{"external/pasta+implicit": rootless.IDDockerProxyTooOld}
	rk, err := netdriver.RootlessKitVersion(t.Context(), netdriver.LocalHost(), packagedRootlessKit)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var table []string
	t.Cleanup(func() { t.Log("driver table:\n" + strings.Join(table, "\n")) })
	for _, netName := range netdriver.Names() {
		n, _ := netdriver.Named(netName)
		if !n.Properties().Namespace {
			continue // the host network: nothing to publish through
		}
		for _, portName := range portdriver.Names() {
			p, _ := portdriver.Named(portName)
			if portName == portdriver.NameNone || portdriver.Validate(n, p) != nil {
				continue // nothing to publish through, or not a pair RootlessKit accepts (Validate's tests)
			}
			engines := []rootless.Engine{rootless.EngineExternal}
			_, nerr := n.Flags(rk, portName)
			_, perr := p.Flags(rk, n)
			switch {
			case nerr != nil || perr != nil:
				engines = []rootless.Engine{rootless.EngineEmbedded} // rootlesskit 2.0.2 lacks it
			case netName == netdriver.NamePasta && portName == portdriver.NameImplicit:
				engines = append(engines, rootless.EngineEmbedded)
			}
			if netName == netdriver.NameSlirp4netns && portName == portdriver.NameBuiltin {
				table = append(table, fmt.Sprintf("%-45s %s", "*/slirp4netns+builtin", "TestCgroupLimits (both engines: the default pair)"))
				continue
			}
			for _, eng := range engines {
				name := eng.String() + "/" + netName + "+" + portName
				t.Run(name, func(t *testing.T) {
					verdict := "FAILED"
					defer func() {
						mu.Lock()
						defer mu.Unlock()
						table = append(table, fmt.Sprintf("%-45s %s", name, verdict))
					}()
					verdict = runCombo(t, bed, eng, n, p, mustRun[name], mustRefuse[name])
				})
			}
		}
	}
}

// runCombo runs one pair on one engine and returns the verdict for the table.
func runCombo(t *testing.T, bed *testbed.Bed, eng rootless.Engine, n netdriver.Driver, p portdriver.Driver, mustRun bool, refusal diag.ID) string {
	t.Helper()
	sourceIP := n.Name() == netdriver.NamePasta && p.Name() == portdriver.NameImplicit ||
		n.Name() == netdriver.NameSlirp4netns && p.Name() == portdriver.NameSlirp4netns
	opts := []rootless.Option{rootless.WithEngine(eng), rootless.WithNetwork(n), rootless.WithPortDriver(p)}
	if sourceIP {
		opts = append(opts, rootless.WithSourceIP(true))
	}
	var blocking []string
	for _, f := range check(t, opts...).Findings {
		if f.Severity == diag.Error {
			blocking = append(blocking, fmt.Sprintf("%s: %s (fix: %s)", f.ID, f.Detail, f.Fix))
			if f.Fix == "" {
				t.Errorf("Check refuses it without a fix: %v", f)
			}
		}
	}
	if refusal != "" && !slices.ContainsFunc(blocking, func(b string) bool { return strings.HasPrefix(b, string(refusal)+":") }) {
		t.Errorf("Check does not refuse it with %s: %q", refusal, blocking)
	}
	if len(blocking) > 0 {
		if mustRun {
			t.Fatalf("Check refuses a pair this guest has everything for:\n%s", strings.Join(blocking, "\n"))
		}
		t.Logf("not available in this guest:\n%s", strings.Join(blocking, "\n"))
		return "refused by Check: " + blocking[0]
	}
	d := launch(t, bed, opts...)
	if i := d.Info(); i.Network.Name() != n.Name() || i.Port.Name() != p.Name() {
		t.Fatalf("Info says %s+%s, want %s+%s", i.Network.Name(), i.Port.Name(), n.Name(), p.Name())
	}
	verdict := "works"
	if sourceIP { // first, so that a failure on 127.0.0.1 below does not hide it
		verdict += ", " + sourceIPSeen(t, bed, d)
	}
	if !t.Run("publish on 127.0.0.1", func(t *testing.T) { testbed.ServeProbe(t, bed, d.Host()) }) {
		return verdict + "; FAILED through a port published on 127.0.0.1"
	}
	return verdict
}

// sourceIPSeen publishes the probe on 0.0.0.0, GETs /remote from the guest's address and fails t
// unless the container saw that address.
func sourceIPSeen(t *testing.T, bed *testbed.Bed, d *rootless.Daemon) string {
	t.Helper()
	cli := testbed.Client(t, d.Host())
	testbed.LoadImage(t, cli, bed)
	port := testbed.FreePort(t)
	cp := nat.Port("80/tcp")
	c, err := cli.ContainerCreate(t.Context(), &container.Config{Image: bed.ImageTag, Cmd: []string{"/bin/probe", "http"}, ExposedPorts: nat.PortSet{cp: {}}},
		&container.HostConfig{PortBindings: nat.PortMap{cp: {{HostIP: "0.0.0.0", HostPort: strconv.Itoa(port)}}}}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(t.Context(), c.ID, container.RemoveOptions{Force: true})
	if err := cli.ContainerStart(t.Context(), c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	seen := testbed.Get(t, fmt.Sprintf("http://%s/remote", net.JoinHostPort(guestAddr, strconv.Itoa(port))), 2*time.Minute)
	if host, _, _ := net.SplitHostPort(seen); host != guestAddr {
		t.Errorf("published on 0.0.0.0, the container saw the client %s as %s; want the source IP kept", guestAddr, seen)
		return "source IP LOST (" + seen + ")"
	}
	return "source IP kept on 0.0.0.0 (" + seen + ")"
}
