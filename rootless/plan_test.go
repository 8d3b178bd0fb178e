package rootless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/diagtest"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

func goldenFile(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// planText is what a plan test compares: the plan, or the error that refused it.
func planText(p *Plan, err error) string {
	if err != nil {
		var b strings.Builder
		b.WriteString("refused:\n")
		for _, f := range diag.List(err) {
			fmt.Fprintf(&b, "  %s %s: %s\n    fix: %s\n", f.Severity, f.ID, f.Detail, f.Fix)
		}
		if len(diag.List(err)) == 0 {
			fmt.Fprintf(&b, "  %v\n", err)
		}
		return b.String()
	}
	return p.String()
}

// TestPlans resolves options on fixture hosts of every engine stack we know and compares the
// plans with golden files: RootlessKit 1.1, 2.0 and 3.3, dockerd 20.10, 26 and a 29-era build,
// AppArmor's restriction on and off, IPv6, the switches, and WithScriptEnv with later options.
func TestPlans(t *testing.T) {
	current := debian12().without("/usr/bin/rootlesskit", "/usr/bin/rootlesskit-docker-proxy").rootlesskit("3.3.0").dockerd("library-import")
	noSlirp := debian12().without("/usr/bin/slirp4netns", "/usr/bin/pasta", "/usr/bin/pesto").pasta("2026_05_07").dockerd("29.7.2")
	nothing := debian12().without("/usr/bin/slirp4netns", "/usr/bin/pasta", "/usr/bin/pesto").dockerd("29.7.2")
	lowMTU := debian12().file("/sys/class/net/eth0/mtu", "1400\n")
	tests := []struct {
		name string
		f    fixture
		opts []Option
	}{
		{"debian12", debian12(), nil},
		{"debian12-external", debian12(), []Option{WithEngine(EngineExternal)}},
		{"current", current, nil},
		{"current-external", current, []Option{WithEngine(EngineExternal)}},
		{"trixie", trixie(), nil},
		{"trixie-external", trixie(), []Option{WithEngine(EngineExternal)}},
		// The systemd cgroup driver (cgroup v2, systemd as init) leaves the PID namespace out;
		// cgroupfs asked for in exec-opts keeps it.
		{"trixie-cgroupfs", trixie(), []Option{WithDockerdArgs("--exec-opt", "native.cgroupdriver=cgroupfs")}},
		{"trixie-pasta", trixie(), []Option{WithNetwork(netdriver.Pasta{}), WithSourceIP(true)}},
		// RootlessKit 2.0 with a pasta of 2024_10_30 or later: loopback publishes reset and the
		// host loopback stays open (warnings, not refusals).
		{"trixie-pasta-external", trixie().without("/usr/bin/pasta", "/usr/bin/pesto").pasta("2026_05_07"), []Option{WithEngine(EngineExternal), WithNetwork(netdriver.Pasta{})}},
		// Only RootlessKit's library runs pasta with builtin: no flags, no fallback.
		{"pasta-builtin-embedded", trixie(), []Option{WithNetwork(netdriver.Pasta{}), WithPortDriver(portdriver.Builtin{})}},
		{"pasta-builtin-external", trixie(), []Option{WithEngine(EngineExternal), WithNetwork(netdriver.Pasta{}), WithPortDriver(portdriver.Builtin{})}},
		{"apparmor-restricted", current.sysctl("kernel.apparmor_restrict_unprivileged_userns", "1").
			file("/etc/apparmor.d/rootlesskit", ubuntuRootlessKitProfile), nil},
		{"apparmor-restricted-unprofiled", current.sysctl("kernel.apparmor_restrict_unprivileged_userns", "1"), nil},
		{"apparmor-restricted-no-rootlesskit", current.sysctl("kernel.apparmor_restrict_unprivileged_userns", "1").
			without("/usr/bin/rootlesskit").probe("overlay", "mount: /home/alice/.local/share/docker/m: permission denied.\n", errors.New("exit status 32")), nil},
		{"apparmor-off", current.sysctl("kernel.apparmor_restrict_unprivileged_userns", "0"), nil},
		{"ipv6", current, []Option{WithIPv6(true)}},
		{"host-loopback", current, []Option{WithHostLoopback(true)}},
		{"source-ip", current, []Option{WithSourceIP(true)}},
		{"source-ip-rootlesskit-1.1", debian12(), []Option{WithEngine(EngineExternal), WithSourceIP(true)}},
		{"mtu-clamp", lowMTU, []Option{WithMTUClamp(true)}},
		{"mtu-low-route", lowMTU, nil},
		{"no-slirp4netns", noSlirp, nil},
		{"no-network-program", nothing, nil},
		{"script-env", current, []Option{WithScriptEnv([]string{EnvScriptNet + "=slirp4netns", EnvScriptMTU + "=1500",
			EnvScriptPortDriver + "=slirp4netns", EnvScriptHostLoopback + "=false", EnvScriptDetachNetNS + "=false",
			EnvScriptFlags + "=--cidr=10.8.0.0/24 -p 127.0.0.1:2376:2376/tcp"})}},
		{"script-env-then-options", current, []Option{
			WithScriptEnv([]string{EnvScriptNet + "=slirp4netns", EnvScriptMTU + "=1500", EnvScriptHostLoopback + "=false"}),
			WithNetwork(netdriver.Slirp4netns{MTU: 9000}), WithHostLoopback(false), WithDetachNetNS(false)}},
		{"sandbox-auto-detached", current, []Option{WithNetwork(netdriver.Slirp4netns{Sandbox: netdriver.True})}},
		{"paths", current.dir("/data", 1000, 0o755), []Option{WithStateDir("/home/alice/.rl"), WithDataRoot("/data/docker"), WithDaemonConfig("/home/alice/daemon.json"),
			WithDockerdArgs("--debug")}},
		// Refusals.
		{"sandbox-detach", current, []Option{WithNetwork(netdriver.Slirp4netns{Sandbox: netdriver.True}), WithDetachNetNS(true)}},
		{"detach-rootlesskit-1.1", debian12(), []Option{WithEngine(EngineExternal), WithDetachNetNS(true)}},
		{"detach-dockerd-20", debian12(), []Option{WithDetachNetNS(true)}},
		{"no-init", debian12().clone().noInitOf(), []Option{WithEngine(EngineExternal)}},
		{"no-dockerd", debian12().without("/usr/bin/dockerd"), nil},
		{"state-dir-in-tmp", debian12(), []Option{WithStateDir("/tmp/rl")}},
		{"host-network", debian12(), []Option{WithNetwork(netdriver.HostNetwork{})}},
		{"gvisor-on-rootlesskit-1.1", debian12(), []Option{WithEngine(EngineExternal), WithNetwork(netdriver.GVisorTapVsock{})}},
		{"old-pasta", debian12(), []Option{WithNetwork(netdriver.Pasta{})}},
		{"lxc-user-nic-missing", debian12(), []Option{WithNetwork(netdriver.LXCUserNIC{})}},
		{"tun-closed", debian12().tunErr(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err, _ := resolveOn(t, tt.f, tt.opts...)
			want := planText(p, err)
			goldenFile(t, filepath.Join("plans", tt.name+".golden"), want)
			// Launch's resolve, which leaves the probes' checks running while the engine
			// starts, ends with the same plan and the same refusal.
			if got := planText(resolveForLaunchOn(t, tt.f, tt.opts...)); got != want {
				t.Errorf("resolveForLaunch differs from resolve:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// resolveForLaunchOn is resolveOn for resolveForLaunch, with the deferred checks awaited.
func resolveForLaunchOn(t testing.TB, f fixture, opts ...Option) (*Plan, error) {
	t.Helper()
	c, err := newConfig(append([]Option{WithEnviron([]string{"XDG_RUNTIME_DIR=/run/user/1000", "TZ=UTC"})}, opts...))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := f.host(t)
	p, done, err := resolveForLaunch(context.Background(), c, h)
	if err != nil {
		if done != nil {
			t.Error("resolveForLaunch failed and left checks to await")
		}
		return p, err
	}
	return p, done()
}

func (f fixture) noInitOf() fixture { f.noInit = true; return f }
func (f fixture) tunErr() fixture   { f.tun = os.ErrPermission; return f }

// TestPlanJSON: a plan marshals with its drivers in their tagged form and its versions as
// strings.
func TestPlanJSON(t *testing.T) {
	p, err, _ := resolveOn(t, debian12())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	goldenFile(t, "plans/debian12.json", string(b)+"\n")
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["engine"] != "embedded" || back["network"].(map[string]any)["driver"] != "slirp4netns" {
		t.Errorf("JSON = %s", b)
	}
}

// TestProbesRunOnce: every external probe (--help, --version, dpkg) runs at most once per
// Resolve, whatever the checks ask, and Resolve runs no program but probes.
func TestProbesRunOnce(t *testing.T) {
	for name, f := range map[string]fixture{"debian12": debian12(), "trixie": trixie()} {
		for _, opts := range [][]Option{nil, {WithEngine(EngineExternal)}, {WithSourceIP(true), WithIPv6(true)}} {
			_, err, r := resolveOn(t, f, opts...)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for cmd, n := range r.count() {
				if n > 1 {
					t.Errorf("%s %v: %q ran %d times", name, opts, cmd, n)
				}
				if !strings.HasSuffix(cmd, " --help") && !strings.HasSuffix(cmd, " --version") {
					t.Errorf("%s: Resolve ran %q, which is not a probe", name, cmd)
				}
			}
		}
	}
}

// countingNet and countingPort are drivers of another package that count their calls.
type (
	calls       struct{ check, flags int }
	countingNet struct {
		netdriver.Slirp4netns
		c *calls
	}
	countingPort struct {
		portdriver.Builtin
		c *calls
	}
)

func (d countingNet) Check(ctx context.Context, h *netdriver.Host) error {
	d.c.check++
	return d.Slirp4netns.Check(ctx, h)
}

func (d countingNet) Flags(v netdriver.Version, port string) ([]string, error) {
	d.c.flags++
	return d.Slirp4netns.Flags(v, port)
}

func (d countingPort) Check(ctx context.Context, h *netdriver.Host, net netdriver.Driver) error {
	d.c.check++
	return d.Builtin.Check(ctx, h, net)
}

func (d countingPort) Flags(v netdriver.Version, net netdriver.Driver) ([]string, error) {
	d.c.flags++
	return d.Builtin.Flags(v, net)
}

// TestDriversCheckedOnce: Resolve calls each driver's Check and Flags once (selection, then the
// one renderer of RootlessKit's flags). Drivers of another package run with the external
// engine, and the embedded engine refuses them with a clear finding.
func TestDriversCheckedOnce(t *testing.T) {
	nc, pc := &calls{}, &calls{}
	opts := []Option{WithNetwork(countingNet{c: nc}), WithPortDriver(countingPort{c: pc})}
	p, err, _ := resolveOn(t, debian12(), append(opts, WithEngine(EngineExternal))...)
	if err != nil {
		t.Fatal(err)
	}
	if *nc != (calls{1, 1}) || *pc != (calls{1, 1}) {
		t.Errorf("network driver: %+v, port driver: %+v calls; want one Check and one Flags each", *nc, *pc)
	}
	if !slices.Contains(p.RootlessKitFlags, "--net=slirp4netns") || !slices.Contains(p.RootlessKitFlags, "--port-driver=builtin") {
		t.Errorf("flags %q", p.RootlessKitFlags)
	}
	_, err, _ = resolveOn(t, debian12(), append(opts, WithEngine(EngineEmbedded))...)
	if !errors.Is(err, IDDriverNotEmbeddable) || !strings.Contains(diag.Remedy(err), "EngineExternal") {
		t.Errorf("a third-party driver with the embedded engine: %v; want %s naming the external engine", err, IDDriverNotEmbeddable)
	}
}

// TestNoInitForEveryEngine (regression): the external engine also re-runs this executable (for
// the target step), so without Init main would run again inside the namespace. Resolve refuses
// every engine up front with ErrNoInit.
func TestNoInitForEveryEngine(t *testing.T) {
	for _, e := range []Engine{EngineAuto, EngineEmbedded, EngineExternal} {
		_, err, r := resolveOn(t, debian12().noInitOf(), WithEngine(e))
		if !errors.Is(err, ErrNoInit) || !errors.Is(err, IDNoInit) {
			t.Errorf("%v without Init: %v; want ErrNoInit", e, err)
		}
		if len(r.count()) != 0 {
			t.Errorf("%v without Init: probes ran before the refusal: %v", e, r.count())
		}
	}
}

// TestFallbackResolvesAgain (regression): after the embedded engine is denied a user namespace,
// EngineAuto falls back to the installed rootlesskit with a plan made for it: rootlesskit 1.1
// has no --detach-netns, and its builtin port driver loses the source IP, so the slirp4netns
// port driver keeps it instead.
func TestFallbackResolvesAgain(t *testing.T) {
	f := debian12().dockerd("29.7.2") // a dockerd that can detach
	p, err, _ := resolveOn(t, f, WithSourceIP(true))
	if err != nil {
		t.Fatal(err)
	}
	if p.Engine != EngineEmbedded || !p.DetachNetNS || p.Port.Name() != "builtin" || p.Fallback == nil {
		t.Fatalf("primary plan: engine %v, detach %v, port %s, fallback %v", p.Engine, p.DetachNetNS, p.Port.Name(), p.Fallback)
	}
	fp, err := p.fallbackPlan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fp.Engine != EngineExternal || fp.RootlessKit.Path != "/usr/bin/rootlesskit" || !fp.fellBack {
		t.Errorf("fallback engine %v %v", fp.Engine, fp.RootlessKit)
	}
	if fp.DetachNetNS || slices.Contains(fp.RootlessKitFlags, "--detach-netns") {
		t.Errorf("the fallback to rootlesskit 1.1 detaches the network namespace: %q", fp.RootlessKitFlags)
	}
	if fp.Port.Name() != "slirp4netns" || slices.Contains(fp.DockerdArgs, "--userland-proxy=false") {
		t.Errorf("the fallback keeps the source IP with %s (dockerd %q); want the slirp4netns port driver", fp.Port.Name(), fp.DockerdArgs)
	}
	goldenFile(t, "plans/fallback.golden", fp.String())
}

// TestBinder (regression): the program that binds published ports, whose privileges the
// privileged-port check inspects, follows the port driver's Properties.Binder.
func TestBinder(t *testing.T) {
	f := trixie().pasta("2026_05_07").rootlesskit("3.3.0")
	for _, tt := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithNetwork(netdriver.Slirp4netns{}), WithPortDriver(portdriver.Builtin{})}, "/home/alice/bin/app"},
		{[]Option{WithNetwork(netdriver.Slirp4netns{}), WithPortDriver(portdriver.Builtin{}), WithEngine(EngineExternal)}, "/usr/bin/rootlesskit"},
		{[]Option{WithNetwork(netdriver.Slirp4netns{}), WithPortDriver(portdriver.Slirp4netns{})}, "/usr/bin/slirp4netns"},
		{[]Option{WithNetwork(netdriver.Pasta{}), WithPortDriver(portdriver.Pesto{})}, "/usr/bin/pasta"},
		{[]Option{WithNetwork(netdriver.Pasta{}), WithPortDriver(portdriver.Implicit{})}, "/usr/bin/pasta"},
		{[]Option{WithNetwork(netdriver.GVisorTapVsock{}), WithPortDriver(portdriver.GVisorTapVsock{})}, "/home/alice/bin/app"},
		{[]Option{WithNetwork(netdriver.Slirp4netns{}), WithPortDriver(portdriver.None{})}, ""},
	} {
		p, err, _ := resolveOn(t, f, tt.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if p.binder != tt.want {
			t.Errorf("%s + %s (%v): binder %q, want %q", p.Network.Name(), p.Port.Name(), p.Engine, p.binder, tt.want)
		}
	}
}

// TestCombinations resolves every network × port driver on every engine over a host that has
// every program, and keeps the verdicts in a golden file: the compatibility matrix as Resolve
// applies it.
func TestCombinations(t *testing.T) {
	f := trixie().pasta("2026_05_07").dockerd("29.7.2").with("/usr/bin/vpnkit").
		file("/etc/lxc/lxc-usernet", "alice veth lxcbr0 1\n").file("/sys/class/net/lxcbr0/bridge/bridge_id", "8000.0\n")
	f.setuid = []string{"/usr/libexec/lxc/lxc-user-nic"}
	engines := []struct {
		name string
		f    fixture
		opts []Option
	}{
		{"embedded", f, nil},
		{"rootlesskit-1.1", f.rootlesskit("1.1.0"), []Option{WithEngine(EngineExternal)}},
		{"rootlesskit-2.0", f.rootlesskit("2.0.0"), []Option{WithEngine(EngineExternal)}},
		{"rootlesskit-3.3", f.rootlesskit("3.3.0"), []Option{WithEngine(EngineExternal)}},
	}
	var b strings.Builder
	for _, e := range engines {
		for _, nn := range netdriver.Names() {
			for _, pn := range portdriver.Names() {
				n, _ := netdriver.Named(nn)
				pd, _ := portdriver.Named(pn)
				h, _ := e.f.host(t)
				c, err := newConfig(append([]Option{WithEnviron([]string{"XDG_RUNTIME_DIR=/run/user/1000"}), WithNetwork(n), WithPortDriver(pd)}, e.opts...))
				if err != nil {
					t.Fatal(err)
				}
				p, err := resolve(context.Background(), c, h)
				fmt.Fprintf(&b, "%-15s %-16s %-16s ", e.name, nn, pn)
				if err != nil {
					var ids []string
					for _, f := range diag.List(err) {
						ids = append(ids, string(f.ID))
					}
					fmt.Fprintf(&b, "refused: %s\n", strings.Join(ids, ", "))
					continue
				}
				fmt.Fprintf(&b, "ok: detach=%v binder=%s\n", p.DetachNetNS, p.binder)
			}
		}
	}
	goldenFile(t, "plans/combinations.golden", b.String())
}

// TestPlanIsAValue: a plan shares nothing mutable with the Info of a daemon or with its clone,
// and the same options on the same host give the same plan.
func TestPlanIsAValue(t *testing.T) {
	a, err, _ := resolveOn(t, debian12(), WithPublish(portdriver.Spec{ChildPort: 80, Parent: netip.MustParseAddrPort("127.0.0.1:8080")}))
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := resolveOn(t, debian12(), WithPublish(portdriver.Spec{ChildPort: 80, Parent: netip.MustParseAddrPort("127.0.0.1:8080")}))
	if a.String() != b.String() {
		t.Errorf("two resolves differ:\n%s\n%s", a, b)
	}
	c := a.clone()
	c.DockerdArgs[0], c.Reasons.Network[0], c.Publish[0].ChildPort = "x", "y", 1
	if a.DockerdArgs[0] == "x" || a.Reasons.Network[0] == "y" || a.Publish[0].ChildPort == 1 {
		t.Error("a clone shares slices with its plan")
	}
	if a.Host() != "unix:///run/user/1000/rootlessd/docker.sock" || !slices.Contains(a.Env(), "DOCKER_HOST="+a.Host()) {
		t.Errorf("Host %s, Env %q", a.Host(), a.Env())
	}
}

// TestAllIDs keeps the list of every finding ID in a golden file, and checks this package's
// own IDs against its sources.
func TestAllIDs(t *testing.T) {
	var b strings.Builder
	for _, id := range AllIDs() {
		if !id.Valid() {
			t.Errorf("invalid ID %q", id)
		}
		b.WriteString(string(id) + "\n")
	}
	goldenFile(t, "ids.golden", b.String())
}

// TestIDs: the IDs this package writes are the constants IDs lists, and no other.
func TestIDs(t *testing.T) {
	diagtest.CheckIDs(t, ".", "rootless", IDs(), 30)
}

// TestResolveForLaunchDefersProbeChecks: an error-level finding that only a probe's answer
// shows (AppArmor denies this program a user namespace) does not hold the plan back from
// Launch, which starts the engine meanwhile; the checks' result is the refusal resolve
// returns. A finding known before the probes' answers refuses at once.
func TestResolveForLaunchDefersProbeChecks(t *testing.T) {
	current := debian12().without("/usr/bin/rootlesskit", "/usr/bin/rootlesskit-docker-proxy").rootlesskit("3.3.0").dockerd("library-import")
	denied := current.sysctl("kernel.apparmor_restrict_unprivileged_userns", "1").without("/usr/bin/rootlesskit").
		probe("overlay", "mount: /home/alice/.local/share/docker/m: permission denied.\n", errors.New("exit status 32"))
	c, err := newConfig([]Option{WithEnviron([]string{"XDG_RUNTIME_DIR=/run/user/1000"})})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := denied.host(t)
	p, done, err := resolveForLaunch(context.Background(), c, h)
	if err != nil || done == nil {
		t.Fatalf("resolveForLaunch = %v, done %v; want the plan, with the probes' checks to await", err, done != nil)
	}
	if len(p.spec.Target.Argv) == 0 || len(p.DockerdArgs) == 0 {
		t.Fatalf("the plan is not ready to start: %+v", p.spec)
	}
	err = done()
	if fs := diag.List(err); len(fs) != 1 || fs[0].ID != IDAppArmorNoProfile {
		t.Fatalf("done() = %v, want the %s refusal", err, IDAppArmorNoProfile)
	}
	if again := done(); again == nil || again.Error() != err.Error() {
		t.Errorf("a second done() = %v, want the same %v", again, err)
	}
	_, want, _ := resolveOn(t, denied)
	if want == nil || want.Error() != err.Error() {
		t.Errorf("done() = %v; resolve = %v", err, want)
	}

	h, _ = debian12().tunErr().host(t)
	if _, done, err := resolveForLaunch(context.Background(), c, h); err == nil || done != nil {
		t.Errorf("a closed /dev/net/tun: resolveForLaunch = %v (done %v), want the refusal at once", err, done != nil)
	}
}
