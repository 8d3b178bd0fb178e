package portdriver_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
	"github.com/rootlessd/rootlessd/portdriver/portdrivertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func builtins() []portdriver.Driver {
	return []portdriver.Driver{
		portdriver.Builtin{},
		portdriver.Builtin{DisableSourceIPTransparent: true},
		portdriver.Builtin{SourceIPTransparentBackend: "nft"},
		&portdriver.Builtin{SourceIPTransparentBackend: "iptables"},
		portdriver.Slirp4netns{},
		portdriver.Implicit{},
		portdriver.Pesto{},
		portdriver.Pesto{Binary: "/opt/bin/pesto"},
		portdriver.GVisorTapVsock{},
		portdriver.None{},
	}
}

func networks() []netdriver.Driver {
	var out []netdriver.Driver
	for _, n := range netdriver.Names() {
		d, _ := netdriver.Named(n)
		out = append(out, d)
	}
	return out
}

func TestConformance(t *testing.T) {
	for _, d := range builtins() {
		enc, _ := portdriver.Encode(d)
		t.Run(strings.ReplaceAll(string(enc), "/", "_"), func(t *testing.T) {
			portdrivertest.Run(t, func() portdriver.Driver { return d })
		})
	}
}

// TestMatrix pins the compatibility matrix RootlessKit's createParentOpt
// enforces (cmd/rootlesskit/main.go, v3.3.0).
func TestMatrix(t *testing.T) {
	want := map[string][]string{
		"slirp4netns":      {"builtin", "slirp4netns", "none"},
		"pasta":            {"implicit", "pesto", "builtin", "none"}, // builtin: embedded engine only
		"vpnkit":           {"builtin", "none"},
		"lxc-user-nic":     {"builtin", "none"},
		"gvisor-tap-vsock": {"builtin", "gvisor-tap-vsock", "none"},
		"none":             {"builtin", "none"},
		"host":             {"none"},
	}
	for _, n := range networks() {
		var got []string
		for _, name := range portdriver.Names() {
			p, _ := portdriver.Named(name)
			if portdriver.Validate(n, p) == nil {
				got = append(got, name)
			}
		}
		w := slices.Clone(want[n.Name()])
		slices.Sort(w)
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Errorf("network %s: port drivers %q; want %q", n.Name(), got, w)
		}
	}
}

func TestValidateMessage(t *testing.T) {
	err := portdriver.Validate(netdriver.Slirp4netns{}, portdriver.Implicit{})
	want := `netdriver.incompatible-drivers: implicit: port driver "implicit" does not work with network "slirp4netns" (fix: with network "slirp4netns" use port driver builtin, slirp4netns or none; port driver "implicit" needs network pasta)`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	err = portdriver.Validate(netdriver.LXCUserNIC{}, portdriver.Slirp4netns{})
	if !errors.Is(err, netdriver.IDIncompatible) || !strings.Contains(err.Error(), "use port driver builtin or none") {
		t.Errorf("lxc-user-nic+slirp4netns: %v", err)
	}
	if err := portdriver.Validate(nil, portdriver.None{}); err == nil {
		t.Errorf("nil network: no error")
	}
}

// TestBuiltinWithPasta: RootlessKit's library runs the builtin port driver with pasta (the
// embedded engine does), but the rootlesskit command refuses the pair (v3.3.0
// cmd/rootlesskit/main.go), so Flags does too, naming the way out.
func TestBuiltinWithPasta(t *testing.T) {
	if err := portdriver.Validate(netdriver.Pasta{}, portdriver.Builtin{}); err != nil {
		t.Errorf("Validate(pasta, builtin): %v", err)
	}
	_, err := portdriver.Builtin{}.Flags(netdriver.Version{Major: 3, Minor: 3}, netdriver.Pasta{})
	if !errors.Is(err, netdriver.IDEmbeddedOnly) || !strings.Contains(diag.Remedy(err), "embedded engine") {
		t.Errorf("Flags(3.3.0, pasta): %v (remedy %q); want %s naming the embedded engine", err, diag.Remedy(err), netdriver.IDEmbeddedOnly)
	}
}

func TestNamed(t *testing.T) {
	for _, n := range portdriver.Names() {
		d, err := portdriver.Named(n)
		if err != nil || d.Name() != n {
			t.Errorf("Named(%q) = %v, %v", n, d, err)
		}
	}
	if _, err := portdriver.Named("pasta"); err == nil || !strings.Contains(err.Error(), `did you mean "pesto"`) {
		t.Errorf("Named(pasta) = %v", err)
	}
}

// TestFlagsGolden writes every port driver's flags for every network and
// RootlessKit version to testdata/flags/NAME.golden (-update rewrites).
func TestFlagsGolden(t *testing.T) {
	for _, d := range builtins() {
		enc, _ := portdriver.Encode(d)
		name := d.Name()
		switch v := d.(type) {
		case portdriver.Builtin:
			if v.DisableSourceIPTransparent {
				name += "-no-source-ip"
			}
			if v.SourceIPTransparentBackend != "" {
				name += "-" + v.SourceIPTransparentBackend
			}
		case portdriver.Pesto:
			if v.Binary != "" {
				name += "-binary"
			}
		}
		if _, ok := d.(*portdriver.Builtin); ok {
			continue // same flags as the value
		}
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			fmt.Fprintf(&b, "# %s\n", enc)
			for _, vs := range helpVersions {
				v, _ := netdriver.ParseVersion(vs)
				for _, n := range networks() {
					f, err := d.Flags(v, n)
					if err != nil {
						fmt.Fprintf(&b, "%s %s: error: %v\n", vs, n.Name(), err)
					} else {
						fmt.Fprintf(&b, "%s %s: %s\n", vs, n.Name(), strings.Join(f, " "))
					}
				}
			}
			golden := filepath.Join("testdata", "flags", name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if string(want) != b.String() {
				t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s", golden, b.String())
			}
		})
	}
}

var helpVersions = []string{"1.1.0", "2.0.0", "2.3.6", "3.0.0", "3.1.0", "3.3.0"}

var (
	flagRE = regexp.MustCompile(`--[a-z0-9][a-z0-9-]*`)
	listRE = regexp.MustCompile(`\[([^\]]*)\]`)
)

// realHelp reads netdriver's captured rootlesskit --help output.
func realHelp(t *testing.T, version string) (flags, ports map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "netdriver", "testdata", "tools", "rootlesskit-"+version+".help"))
	if err != nil {
		t.Fatal(err)
	}
	flags, ports = map[string]bool{}, map[string]bool{}
	for _, f := range flagRE.FindAllString(string(b), -1) {
		flags[f] = true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "--port-driver value") {
			continue
		}
		for _, item := range strings.Split(listRE.FindStringSubmatch(line)[1], ",") {
			item, _, _ = strings.Cut(strings.TrimSpace(item), "(")
			ports[strings.TrimSpace(item)] = true
		}
	}
	return flags, ports
}

// TestFlagsAgainstRealHelp checks the version gates against real
// rootlesskit binaries: what is produced for a version is in its --help,
// and what is refused as too old is missing from it.
func TestFlagsAgainstRealHelp(t *testing.T) {
	for _, vs := range helpVersions {
		flags, ports := realHelp(t, vs)
		v, _ := netdriver.ParseVersion(vs)
		for _, d := range builtins() {
			for _, n := range networks() {
				f, err := d.Flags(v, n)
				if err == nil {
					for _, s := range f {
						name, val, _ := strings.Cut(s, "=")
						if !flags[name] || name == "--port-driver" && !ports[val] {
							t.Errorf("%s with %s for RootlessKit %s: %s is not in its --help", d.Name(), n.Name(), vs, s)
						}
					}
					continue
				}
				if !errors.Is(err, netdriver.IDRootlessKitTooOld) {
					continue
				}
				newest, nerr := d.Flags(netdriver.LinkedRootlessKit, n)
				if nerr != nil {
					t.Errorf("%s with %s: refused for %s and Embedded: %v", d.Name(), n.Name(), vs, nerr)
					continue
				}
				missing := false
				for _, s := range newest {
					name, val, _ := strings.Cut(s, "=")
					if !flags[name] || name == "--port-driver" && !ports[val] {
						missing = true
					}
				}
				if !missing {
					t.Errorf("%s with %s: refused for RootlessKit %s (%v) but its --help has %q", d.Name(), n.Name(), vs, err, newest)
				}
			}
		}
	}
}

// TestSourceIPWith: the builtin driver keeps TCP source IPs from RootlessKit 3.0 on only;
// the drivers that keep them always keep them on every version.
func TestSourceIPWith(t *testing.T) {
	for _, tt := range []struct {
		p    portdriver.Driver
		v    netdriver.Version
		want netdriver.SourceIP
	}{
		{portdriver.Builtin{}, netdriver.Version{Major: 1, Minor: 1}, netdriver.SourceIPLost},
		{portdriver.Builtin{}, netdriver.Version{Major: 2, Minor: 3}, netdriver.SourceIPLost},
		{portdriver.Builtin{}, netdriver.Version{Major: 3}, netdriver.SourceIPKeptTCP},
		{portdriver.Builtin{}, netdriver.LinkedRootlessKit, netdriver.SourceIPKeptTCP},
		{portdriver.Builtin{DisableSourceIPTransparent: true}, netdriver.LinkedRootlessKit, netdriver.SourceIPLost},
		{portdriver.Slirp4netns{}, netdriver.Version{Major: 1, Minor: 1}, netdriver.SourceIPKept},
		{portdriver.Implicit{}, netdriver.Version{Major: 2}, netdriver.SourceIPKept},
		{portdriver.Pesto{}, netdriver.LinkedRootlessKit, netdriver.SourceIPKept},
		{portdriver.GVisorTapVsock{}, netdriver.LinkedRootlessKit, netdriver.SourceIPLost},
		{portdriver.None{}, netdriver.LinkedRootlessKit, netdriver.SourceIPNA},
	} {
		if got := tt.p.Properties().SourceIPWith(tt.v); got != tt.want {
			t.Errorf("%s under %s: SourceIPWith = %v, want %v", tt.p.Name(), tt.v, got, tt.want)
		}
	}
}

func TestCodec(t *testing.T) {
	for _, bad := range []string{``, `{}`, `{"driver":"pasta"}`, `{"driver":"builtin","config":{"x":1}}`, `{"driver":"slirp4netns","config":{"a":1}}`, `{"driver":"none"} 1`} {
		if d, err := portdriver.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) = %#v; want an error", bad, d)
		}
	}
	b, err := portdriver.Encode(portdriver.Builtin{DisableSourceIPTransparent: true})
	if err != nil || string(b) != `{"driver":"builtin","config":{"disableSourceIPTransparent":true}}` {
		t.Errorf("Encode = %s, %v", b, err)
	}
	if _, err := portdriver.Encode(nil); !errors.Is(err, netdriver.IDNotBuiltin) {
		t.Errorf("Encode(nil) = %v", err)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	h := func(progs ...string) *netdriver.Host {
		fsys := fstest.MapFS{}
		for _, p := range progs {
			fsys[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Mode: 0o755}
		}
		return &netdriver.Host{PATH: "/usr/sbin:/usr/bin", FS: fsys,
			Run: func(_ context.Context, name string, args ...string) ([]byte, error) {
				if name == "/usr/bin/pasta" && len(args) == 1 && args[0] == "--version" {
					return []byte("pasta 2026_05_07.1afd4ed\n"), nil
				}
				return nil, errors.New("exit status 1")
			}}
	}
	if err := (portdriver.Builtin{}).Check(ctx, h("/usr/sbin/nft"), netdriver.Slirp4netns{}); err != nil {
		t.Errorf("builtin with nft: %v", err)
	}
	err := portdriver.Builtin{}.Check(ctx, h(), netdriver.Slirp4netns{})
	if !errors.Is(err, netdriver.IDSourceIPBackend) || diag.Blocking(err) != nil {
		t.Errorf("builtin without nft/iptables: %v (want a warning)", err)
	}
	if err := (portdriver.Builtin{DisableSourceIPTransparent: true}).Check(ctx, h(), netdriver.Slirp4netns{}); err != nil {
		t.Errorf("builtin without source IP needs no firewall: %v", err)
	}
	if err := (portdriver.Builtin{SourceIPTransparentBackend: "iptables"}).Check(ctx, h("/usr/sbin/nft"), netdriver.Slirp4netns{}); !errors.Is(err, netdriver.IDSourceIPBackend) {
		t.Errorf("forced iptables without iptables: %v", err)
	}
	if err := (portdriver.Pesto{}).Check(ctx, h("/usr/bin/pasta", "/usr/bin/pesto"), netdriver.Pasta{}); err != nil {
		t.Errorf("pesto with pasta 2026_05_07: %v", err)
	}
	// dockerd forwards IPv6 host ports to the namespace's IPv4 address with pesto: seen with moby
	// v2.0.0-beta.24, RootlessKit 3.3.0 and passt 2026_10_02, `docker run -p 8080:80` fails with
	// "failed to bind host port 10.0.2.100:8080/tcp: address already in use".
	err = portdriver.Pesto{}.Check(ctx, h("/usr/bin/pasta", "/usr/bin/pesto"), netdriver.Pasta{IPv6: true})
	if !errors.Is(err, netdriver.IDUnsupported) || diag.Blocking(err) == nil || !strings.Contains(diag.Remedy(err), "implicit") {
		t.Errorf("pesto with IPv6: %v (remedy %q); want a blocking %s naming implicit", err, diag.Remedy(err), netdriver.IDUnsupported)
	}
	if err := (portdriver.Pesto{}).Check(ctx, h("/usr/bin/pasta"), netdriver.Pasta{}); !errors.Is(err, netdriver.IDBinaryMissing) {
		t.Errorf("pesto without pesto: %v", err)
	}
	if err := (portdriver.Implicit{}).Check(ctx, h("/usr/bin/pasta"), netdriver.Slirp4netns{}); !errors.Is(err, netdriver.IDIncompatible) {
		t.Errorf("implicit with slirp4netns: %v", err)
	}
}

func TestBuiltinFlags(t *testing.T) {
	v30 := netdriver.Version{Major: 3}
	for _, tt := range []struct {
		d    portdriver.Builtin
		v    netdriver.Version
		want string
	}{
		{portdriver.Builtin{}, netdriver.Version{Major: 1, Minor: 1}, "--port-driver=builtin"},
		{portdriver.Builtin{DisableSourceIPTransparent: true}, netdriver.Version{Major: 2, Minor: 3, Patch: 6}, "--port-driver=builtin"},
		{portdriver.Builtin{DisableSourceIPTransparent: true}, v30, "--port-driver=builtin --source-ip-transparent=false"},
		{portdriver.Builtin{SourceIPTransparentBackend: "nft"}, v30, "error: netdriver.rootlesskit-too-old: builtin: --source-ip-transparent-backend needs RootlessKit 3.3.0 or later; have 3.0.0"},
		{portdriver.Builtin{SourceIPTransparentBackend: "nft"}, netdriver.LinkedRootlessKit, "--port-driver=builtin --source-ip-transparent-backend=nft"},
		{portdriver.Builtin{SourceIPTransparentBackend: "auto"}, v30, "--port-driver=builtin"},
		{portdriver.Builtin{SourceIPTransparentBackend: "bpf"}, v30, "error: netdriver.invalid-config: builtin"},
	} {
		f, err := tt.d.Flags(tt.v, netdriver.Slirp4netns{})
		got := strings.Join(f, " ")
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("%+v on %s: %s; want %s", tt.d, tt.v, got, tt.want)
		}
	}
}
