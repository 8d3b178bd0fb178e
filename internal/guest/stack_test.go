//go:build guest

package guest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
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
// and the pairs this guest has everything for must not be refused. pasta+implicit runs on both
// engines: Debian 13's dockerd 26 publishes through rootlesskit 2.0.2's docker proxy, which
// execs docker-proxy for implicit; pasta forwards its listener (ports outside the ephemeral
// range only). Where Check warns that 127.0.0.1 publishes reset (rootlesskit 2.0.2 with a pasta
// of 2024_10_30 or later), such a publish must indeed not answer.
func TestDriverCombinations(t *testing.T) {
	bed := testbed.RequireGuest(t)
	mustRun := map[string]bool{
		"external/slirp4netns+slirp4netns": true, "embedded/none+builtin": true, "embedded/pasta+builtin": true,
		"embedded/gvisor-tap-vsock+builtin": true, "embedded/gvisor-tap-vsock+gvisor-tap-vsock": true,
		"external/pasta+implicit": true, "embedded/pasta+implicit": true,
	}
	// Pairs Check must refuse, with the finding's ID: none in this guest. (Debian 12's
	// rootlesskit 1.1 proxy is refused for implicit with rootless.docker-proxy-too-old: the
	// unit tests' TestDockerProxyImplicit.)
	mustRefuse := map[string]diag.ID{}
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

// slirpCIDR is slirp4netns's network for the source-IP test: one that does not hold guestAddr.
var slirpCIDR = netip.MustParsePrefix("10.8.0.0/24")

// runCombo runs one pair on one engine and returns the verdict for the table.
func runCombo(t *testing.T, bed *testbed.Bed, eng rootless.Engine, n netdriver.Driver, p portdriver.Driver, mustRun bool, refusal diag.ID) string {
	t.Helper()
	sourceIP := n.Name() == netdriver.NamePasta && p.Name() == portdriver.NameImplicit ||
		n.Name() == netdriver.NameSlirp4netns && p.Name() == portdriver.NameSlirp4netns
	if sourceIP && n.Name() == netdriver.NameSlirp4netns {
		// The guest's address (guestAddr, 10.0.2.15) is inside slirp4netns's default network,
		// 10.0.2.0/24: the namespace would answer that client on its own link, where slirp4netns
		// answers only for its virtual hosts, and the connection hangs. A client on a LAN with
		// such addresses has the same problem; the network of the namespace must be another.
		n = netdriver.Slirp4netns{CIDR: slirpCIDR}
	}
	opts := []rootless.Option{rootless.WithEngine(eng), rootless.WithNetwork(n), rootless.WithPortDriver(p)}
	if sourceIP {
		opts = append(opts, rootless.WithSourceIP(true))
	}
	var blocking []string
	loopbackResets := false // Check warns that 127.0.0.1 publishes reset (RootlessKit < 2.3.2 with implicit)
	for _, f := range check(t, opts...).Findings {
		if f.Severity == diag.Error {
			blocking = append(blocking, fmt.Sprintf("%s: %s (fix: %s)", f.ID, f.Detail, f.Fix))
			if f.Fix == "" {
				t.Errorf("Check refuses it without a fix: %v", f)
			}
		}
		if f.ID == netdriver.IDRootlessKitTooOld && strings.Contains(f.Detail, "127.0.0.1:PORT") && strings.Contains(f.Detail, "resets every connection") {
			loopbackResets = true
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
	cli := testbed.Client(t, d.Host())
	testbed.LoadImage(t, cli, bed)
	verdict := "works"
	if sourceIP { // first, so that a failure on 127.0.0.1 below does not hide it
		verdict += ", " + sourceIPSeen(t, bed, d, cli, p)
	}
	var loopback string
	t.Run("publish on 127.0.0.1", func(t *testing.T) {
		port := hostPort(t, p)
		testbed.RunProbe(t, cli, bed, port, 80)
		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		if loopbackResets {
			// What Check warns about must happen: the publish never answers (TryGet retries
			// while pasta has not yet found the namespace's new listener: it scans once a second).
			body, err := testbed.TryGet(url, 30*time.Second)
			logPorts(t, port)
			if err == nil {
				t.Errorf("Check warns that 127.0.0.1 publishes reset with this RootlessKit and pasta, but GET %s answered %q", url, body)
				loopback = "127.0.0.1 publish answered, despite Check's warning"
				return
			}
			loopback = "127.0.0.1 publish resets, as Check warns (" + err.Error() + ")"
			t.Log(loopback)
			return
		}
		if body := testbed.Get(t, url, time.Minute); body != testbed.ProbeBody {
			t.Fatalf("GET through the published port %s: body %q, want %q", url, body, testbed.ProbeBody)
		}
		loopback = "127.0.0.1 publish works"
	})
	if loopback == "" {
		return verdict + "; FAILED through a port published on 127.0.0.1"
	}
	return verdict + "; " + loopback
}

// hostPort is a free port to publish on: with implicit one outside the host's ephemeral range,
// which pasta never forwards (--tcp-ports=auto skips it).
func hostPort(t *testing.T, p portdriver.Driver) int {
	if p.Name() == portdriver.NameImplicit {
		return testbed.FreeStaticPort(t)
	}
	return testbed.FreePort(t)
}

// logPorts logs who listens on port in the guest and the user's forwarding processes: pasta
// (its --tcp-ports), docker-proxy and rootlesskit-docker-proxy.
func logPorts(t *testing.T, port int) {
	t.Helper()
	out, _ := exec.Command("ss", "-Hltnp", fmt.Sprintf("sport = :%d", port)).CombinedOutput()
	var procs []string
	for _, pr := range testbed.ProcessesOf(os.Getuid()) {
		if f := strings.Fields(pr.Cmdline); len(f) > 0 && slices.Contains([]string{"pasta", "pasta.avx2", "docker-proxy", "rootlesskit-docker-proxy"}, filepath.Base(f[0])) {
			procs = append(procs, fmt.Sprintf("%d %s", pr.PID, pr.Cmdline))
		}
	}
	t.Logf("port %d: ss -ltnp:\n%s\nforwarding processes:\n%s", port, strings.TrimSpace(string(out)), strings.Join(procs, "\n"))
}

// sourceIPSeen publishes the probe on 0.0.0.0, GETs /remote from the guest's address and fails t
// unless the container saw that address.
func sourceIPSeen(t *testing.T, bed *testbed.Bed, d *rootless.Daemon, cli *client.Client, p portdriver.Driver) string {
	t.Helper()
	port := hostPort(t, p)
	cp := nat.Port("80/tcp")
	c, err := cli.ContainerCreate(t.Context(), &container.Config{Image: bed.ImageTag, Cmd: []string{"/bin/probe", "http"}, ExposedPorts: nat.PortSet{cp: {}}},
		&container.HostConfig{PortBindings: nat.PortMap{cp: {{HostIP: "0.0.0.0", HostPort: strconv.Itoa(port)}}}}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	if err := cli.ContainerStart(t.Context(), c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/remote", net.JoinHostPort(guestAddr, strconv.Itoa(port)))
	seen, err := testbed.TryGet(url, 2*time.Minute)
	if p.Name() == portdriver.NameImplicit {
		logPorts(t, port)
	}
	if err != nil {
		t.Errorf("published on 0.0.0.0:%d, GET %s: %v", port, url, err)
		return "FAILED through a port published on 0.0.0.0 (" + err.Error() + ")"
	}
	if host, _, _ := net.SplitHostPort(seen); host != guestAddr {
		t.Errorf("published on 0.0.0.0, the container saw the client %s as %s; want the source IP kept", guestAddr, seen)
		return "source IP LOST (" + seen + ")"
	}
	return "source IP kept on 0.0.0.0 (" + seen + ")"
}
