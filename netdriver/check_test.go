package netdriver_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/diagtest"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// wantProblems checks that err holds exactly the given IDs (blocking or
// warning), each with a remedy.
func wantProblems(t *testing.T, err error, ids ...diag.ID) {
	t.Helper()
	probs := diag.List(err)
	var got []diag.ID
	for _, p := range probs {
		got = append(got, p.ID)
		if p.Remedy() == "" {
			t.Errorf("%v has no remedy", p)
		}
	}
	if len(got) != len(ids) {
		t.Fatalf("problems %v; want %v\n%v", got, ids, err)
	}
	for i := range ids {
		if got[i] != ids[i] {
			t.Fatalf("problems %v; want %v\n%v", got, ids, err)
		}
		if !errors.Is(err, ids[i]) {
			t.Errorf("errors.Is(err, %s) = false", ids[i])
		}
	}
}

func TestSlirp4netnsCheck(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		host fakeHost
		d    netdriver.Slirp4netns
		want []diag.ID
	}{
		{name: "1.2.0", host: slirpHost("1.2.0")},
		{name: "1.2.0 all options", host: slirpHost("1.2.0"), d: netdriver.Slirp4netns{IPv6: true, CIDR: netip.MustParsePrefix("10.0.3.0/24"), Sandbox: netdriver.True, Seccomp: netdriver.True}},
		{name: "custom binary", host: ordinary().with("/opt/s4/slirp4netns").out("/opt/s4/slirp4netns --help", "fixture:slirp4netns-1.2.0.help"), d: netdriver.Slirp4netns{Binary: "/opt/s4/slirp4netns"}},
		{name: "0.3.0 lacks --netns-type", host: slirpHost("0.3.0"), want: []diag.ID{netdriver.IDSlirp4netnsTooOld}},
		{name: "0.3.0 sandbox", host: slirpHost("0.3.0"), d: netdriver.Slirp4netns{Sandbox: netdriver.True},
			want: []diag.ID{netdriver.IDSlirp4netnsTooOld, netdriver.IDSlirp4netnsTooOld}},
		{name: "missing", host: ordinary(), want: []diag.ID{netdriver.IDBinaryMissing}},
		{name: "help fails", host: ordinary().with("/usr/bin/slirp4netns"), want: []diag.ID{netdriver.IDBinaryFailed}},
		{name: "no ip, no nsenter", host: fakeHost{}.with("/usr/bin/slirp4netns").out("/usr/bin/slirp4netns --help", "fixture:slirp4netns-1.2.0.help"),
			want: []diag.ID{netdriver.IDBinaryMissing, netdriver.IDBinaryMissing}},
		{name: "invalid values", host: slirpHost("1.2.0"), d: netdriver.Slirp4netns{MTU: 70000, CIDR: netip.MustParsePrefix("10.0.2.100/24"), Sandbox: "yes"},
			want: []diag.ID{netdriver.IDInvalidConfig, netdriver.IDInvalidConfig, netdriver.IDInvalidConfig}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblems(t, tt.d.Check(ctx, tt.host.host(t)), tt.want...)
		})
	}
	err := netdriver.Slirp4netns{}.Check(ctx, slirpHost("0.3.0").host(t))
	if !strings.Contains(err.Error(), "seems older than v0.4.0") || !strings.Contains(diag.Remedy(err), "slirp4netns 0.4.0 or later") {
		t.Errorf("0.3.0 message: %v / %s", err, diag.Remedy(err))
	}
}

func TestSlirp4netnsCheckPort(t *testing.T) {
	ctx := context.Background()
	if err := (netdriver.Slirp4netns{}).CheckPort(ctx, slirpHost("1.2.0").host(t), portdriver.NameSlirp4netns); err != nil {
		t.Errorf("1.2.0: %v", err)
	}
	noAPI := ordinary().with("/usr/bin/slirp4netns").out("/usr/bin/slirp4netns --help", "--netns-type --cidr")
	wantProblems(t, netdriver.Slirp4netns{}.CheckPort(ctx, noAPI.host(t), portdriver.NameSlirp4netns), netdriver.IDSlirp4netnsTooOld)
	if err := (netdriver.Slirp4netns{}).CheckPort(ctx, noAPI.host(t), portdriver.NameBuiltin); err != nil {
		t.Errorf("builtin needs no API socket: %v", err)
	}
}

func TestPastaCheck(t *testing.T) {
	ctx := context.Background()
	debianDpkg := pastaHost("pasta-debian-unknown.version").
		file("/var/lib/dpkg/status", "fixture:dpkg/status").
		file("/var/lib/dpkg/info/passt.list", "fixture:dpkg/passt.list")
	// Debian 13's pasta prints its version only to a terminal; through a pipe it exits 0 silently.
	trixiePipe := pastaHost("pasta-debian-trixie-pipe.version")
	for _, tt := range []struct {
		name     string
		host     fakeHost
		want     []diag.ID
		blocking bool
		detail   string
	}{
		{name: "2025_01_21", host: pastaHost("pasta-2025_01_21.version")},
		{name: "fedora", host: pastaHost("pasta-fedora-el9.version")},
		{name: "debian unknown version", host: pastaHost("pasta-debian-unknown.version"),
			want: []diag.ID{netdriver.IDPastaVersionUnknown}, detail: `prints "unknown version"`},
		{name: "debian unknown version, dpkg says 2023_03_09", host: debianDpkg,
			want: []diag.ID{netdriver.IDPastaTooOld}, blocking: true, detail: "pasta 2023_03_09.7c7625d (from dpkg: passt 0.0~git20230309.7c7625d-1) is older than 2023_06_25"},
		{name: "dpkg list does not own the program", host: debianDpkg.with("/usr/local/bin/pasta").out("/usr/local/bin/pasta --version", "fixture:pasta-debian-unknown.version"),
			want: []diag.ID{netdriver.IDPastaVersionUnknown}},
		{name: "debian 13 prints nothing to a pipe, dpkg says 2025_05_03", host: trixiePipe.
			file("/var/lib/dpkg/status", "Package: passt\nStatus: install ok installed\nVersion: 0.0~git20250503.587980c-2+deb13u1\n").
			file("/var/lib/dpkg/info/passt.list", "/usr/bin/pasta\n")},
		{name: "debian 13 prints nothing to a pipe, no dpkg record", host: trixiePipe,
			want: []diag.ID{netdriver.IDPastaVersionUnknown}, detail: `"/usr/bin/pasta --version" prints nothing`},
		{name: "debian sid 2026_10_02", host: pastaHost("pasta-debian-sid-2026_10_02.version")},
		{name: "missing", host: ordinary(), want: []diag.ID{netdriver.IDBinaryMissing}, blocking: true},
		{name: "not pasta", host: ordinary().with("/usr/bin/pasta").out("/usr/bin/pasta --version", "hello"),
			want: []diag.ID{netdriver.IDBinaryFailed}, blocking: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := netdriver.Pasta{}.Check(ctx, tt.host.host(t))
			wantProblems(t, err, tt.want...)
			if (diag.Blocking(err) != nil) != tt.blocking {
				t.Errorf("Blocking(%v) = %v; want blocking=%v", err, diag.Blocking(err), tt.blocking)
			}
			if tt.detail != "" && !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q lacks %q", err, tt.detail)
			}
		})
	}
}

func TestPastaCheckPort(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		host fakeHost
		port string
		want []diag.ID
	}{
		{name: "implicit 2025", host: pastaHost("pasta-2025_01_21.version"), port: portdriver.NameImplicit},
		{name: "implicit 2023_06_27", host: pastaHost("pasta-2023_06_27.version"), port: portdriver.NameImplicit, want: []diag.ID{netdriver.IDPastaTooOld}},
		{name: "implicit unknown", host: pastaHost("pasta-debian-unknown.version"), port: portdriver.NameImplicit, want: []diag.ID{netdriver.IDPastaVersionUnknown}},
		{name: "pesto 2026_05_07", host: pastaHost("pasta-2026_05_07.version"), port: portdriver.NamePesto},
		{name: "pesto 2025", host: pastaHost("pasta-2025_01_21.version"), port: portdriver.NamePesto, want: []diag.ID{netdriver.IDPastaTooOld}},
		{name: "pesto unknown with --conf-path", host: pastaHost("pasta-debian-unknown.version").out("/usr/bin/pasta --conf-path=/dev/null --version", "fixture:pasta-debian-unknown.version"), port: portdriver.NamePesto},
		{name: "pesto unknown without --conf-path", host: pastaHost("pasta-debian-unknown.version"), port: portdriver.NamePesto, want: []diag.ID{netdriver.IDPastaTooOld}},
		{name: "none", host: pastaHost("pasta-2023_06_27.version"), port: portdriver.NameNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblems(t, netdriver.Pasta{}.CheckPort(ctx, tt.host.host(t), tt.port), tt.want...)
		})
	}
}

func TestLXCUserNICCheck(t *testing.T) {
	ctx := context.Background()
	const usernet = "/etc/lxc/lxc-usernet"
	base := ordinary().file("/sys/class/net/lxcbr0/bridge/bridge_id", "8000.fea5ec4b4b88\n").file("/sys/class/net/br1/bridge/bridge_id", "8000.0\n")
	base.setuid = []string{"/usr/lib/x86_64-linux-gnu/lxc/lxc-user-nic"}
	noBridge := ordinary().file(usernet, "alice veth lxcbr0 1\n").file("/sys/class/net/lxcbr0/address", "fe:a5:ec:4b:4b:88\n")
	noBridge.setuid = base.setuid
	for _, tt := range []struct {
		name string
		host fakeHost
		d    netdriver.LXCUserNIC
		want []diag.ID
	}{
		{name: "user entry", host: base.file(usernet, "alice veth lxcbr0 1\n")},
		{name: "group entry", host: func() fakeHost {
			f := base.file(usernet, "@staff veth lxcbr0 4\n")
			f.groups = []string{"users", "staff"}
			return f
		}()},
		{name: "other bridge", host: base.file(usernet, "alice veth br1 1\n"), d: netdriver.LXCUserNIC{Bridge: "br1"}},
		{name: "wrong bridge", host: base.file(usernet, "alice veth br1 1\n"), want: []diag.ID{netdriver.IDLXCUserNet}},
		{name: "zero count", host: base.file(usernet, "alice veth lxcbr0 0\n"), want: []diag.ID{netdriver.IDLXCUserNet}},
		{name: "no usernet", host: base, want: []diag.ID{netdriver.IDLXCUserNet}},
		{name: "not setuid", host: ordinary().with("/usr/libexec/lxc/lxc-user-nic").file(usernet, "alice veth lxcbr0 1\n").file("/sys/class/net/lxcbr0/bridge/bridge_id", "x"), want: []diag.ID{netdriver.IDNotSetuid}},
		{name: "missing", host: ordinary().file(usernet, "alice veth lxcbr0 1\n").file("/sys/class/net/lxcbr0/bridge/bridge_id", "x"), want: []diag.ID{netdriver.IDBinaryMissing}},
		{name: "no such bridge", host: noBridge.file("/sys/class/net/eth0/address", "x"), d: netdriver.LXCUserNIC{Bridge: "lxcbr0"}, want: []diag.ID{netdriver.IDLXCBridge}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblems(t, tt.d.Check(ctx, tt.host.host(t)), tt.want...)
		})
	}
	err := netdriver.LXCUserNIC{}.Check(ctx, base.host(t))
	if want := `add the line "alice veth lxcbr0 1" to /etc/lxc/lxc-usernet`; !strings.Contains(diag.Remedy(err), want) {
		t.Errorf("remedy %q lacks %q", diag.Remedy(err), want)
	}
	err = netdriver.LXCUserNIC{}.Check(ctx, noBridge.host(t))
	if want := "ip link add lxcbr0 type bridge"; !strings.Contains(err.Error(), "lxcbr0 is not a bridge") || !strings.Contains(diag.Remedy(err), want) {
		t.Errorf("no bridge: %v (remedy %q); want it named, and %q", err, diag.Remedy(err), want)
	}
}

func TestOtherChecks(t *testing.T) {
	ctx := context.Background()
	wantProblems(t, netdriver.VPNKit{}.Check(ctx, ordinary().with("/usr/bin/vpnkit").host(t)))
	wantProblems(t, netdriver.VPNKit{}.Check(ctx, ordinary().host(t)), netdriver.IDBinaryMissing)
	wantProblems(t, netdriver.GVisorTapVsock{}.Check(ctx, ordinary().host(t)))
	wantProblems(t, netdriver.GVisorTapVsock{}.Check(ctx, fakeHost{}.with("/usr/bin/nsenter").host(t)), netdriver.IDBinaryMissing)
	wantProblems(t, netdriver.GVisorTapVsock{HostLoopback: true, CIDR: netip.MustParsePrefix("10.0.3.0/24")}.Check(ctx, ordinary().host(t)), netdriver.IDInvalidConfig)
	wantProblems(t, netdriver.None{}.Check(ctx, ordinary().host(t)))
	err := netdriver.HostNetwork{}.Check(ctx, ordinary().host(t))
	wantProblems(t, err, netdriver.IDHostNetwork)
	if !strings.Contains(err.Error(), "Unsupported RootlessKit network driver: host") {
		t.Errorf("host network message: %v", err)
	}
}

func TestCheckHonoursContextDuringProbe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := slirpHost("1.2.0").host(t)
	run := h.Run
	h.Run = func(c context.Context, name string, args ...string) ([]byte, error) {
		cancel()
		return run(c, name, args...)
	}
	if err := (netdriver.Slirp4netns{}).Check(ctx, h); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want context.Canceled", err)
	}
}

func TestProblemAndWarn(t *testing.T) {
	hard := netdriver.Problem(netdriver.IDBinaryMissing, "x", "x not found", "install x")
	warn := netdriver.Warn(netdriver.IDPastaVersionUnknown, "pasta", "unknown", "check it")
	if hard.Severity != diag.Error || warn.Severity != diag.Warning {
		t.Errorf("severities %v, %v", hard.Severity, warn.Severity)
	}
	if want := "warning: netdriver.pasta-version-unknown: pasta: unknown (fix: check it)"; warn.Error() != want {
		t.Errorf("Error() = %q; want %q", warn.Error(), want)
	}
	if hard.Detail != "x not found" { // the driver's name already starts the detail
		t.Errorf("Detail = %q", hard.Detail)
	}
	if p := netdriver.Problem(netdriver.IDInvalidConfig, "slirp4netns", "MTU 1 is out of range", "fix it"); p.Detail != "slirp4netns: MTU 1 is out of range" {
		t.Errorf("Detail = %q; want the driver's name first", p.Detail)
	}
	err := errors.Join(hard, errors.Join(warn, hard))
	if b := diag.Blocking(err); b == nil || errors.Is(b, netdriver.IDPastaVersionUnknown) || !errors.Is(b, netdriver.IDBinaryMissing) {
		t.Errorf("Blocking = %v", b)
	}
}

func TestIDs(t *testing.T) {
	diagtest.CheckIDs(t, ".", "netdriver", netdriver.IDs(), 19)
}

func TestNamed(t *testing.T) {
	for _, n := range netdriver.Names() {
		d, err := netdriver.Named(n)
		if err != nil || d.Name() != n {
			t.Errorf("Named(%q) = %v, %v", n, d, err)
		}
	}
	_, err := netdriver.Named("slirp")
	if !errors.Is(err, netdriver.IDInvalidConfig) || !strings.Contains(diag.Remedy(err), "slirp4netns, pasta, vpnkit, lxc-user-nic, gvisor-tap-vsock, none, host") {
		t.Errorf("Named(slirp) = %v", err)
	}
}
