package rootless

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

func TestIptablesOff(t *testing.T) {
	dir := t.TempDir()
	off := filepath.Join(dir, "off.json")
	on := filepath.Join(dir, "on.json")
	if err := os.WriteFile(off, []byte(`{"iptables": false}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(on, []byte(`{"iptables": true, "mtu": 1400}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		cfg  string
		want bool
	}{
		{nil, "", false},
		{[]string{"--iptables=false"}, "", true},
		{[]string{"--iptables=0"}, "", true},
		{[]string{"--iptables=FALSE"}, "", true},
		{[]string{"--iptables=false", "--iptables=true"}, "", false}, // the last wins, as in dockerd
		{[]string{"--iptables=nonsense"}, "", false},
		{nil, off, true},
		{nil, on, false},
		{nil, filepath.Join(dir, "missing.json"), false},
	} {
		if got := iptablesOff(localHost("/usr/bin:/bin"), tt.args, tt.cfg); got != tt.want {
			t.Errorf("iptablesOff(%q, %q) = %v, want %v", tt.args, tt.cfg, got, tt.want)
		}
	}
}

// Contents of rootlesskit-docker-proxy as the check reads them when a binary has no Go build
// info it can read: the import path of its main package, the package paths and the function
// names of its symbols. Debian builds both 1.1 (Debian 12) and 2.0.2 (Debian 13) under the v1
// import path; only 2.0's calls syscall.Exec. Neither has the string "implicit" in its data:
// Go compiles 2.0's comparison with it into an immediate operand.
const (
	proxyDebian12 = "\x7fELF go1.19.8 path\tgithub.com/rootless-containers/rootlesskit/cmd/rootlesskit-docker-proxy " +
		"\x00github.com/rootless-containers/rootlesskit/pkg/api/client.(*client).Info\x00os/exec.LookPath\x00 no port driver is available"
	proxyDebian13 = "\x7fELF go1.24.4 path\tgithub.com/rootless-containers/rootlesskit/cmd/rootlesskit-docker-proxy " +
		"\x00github.com/rootless-containers/rootlesskit/pkg/api/client.(*client).Info\x00os/exec.LookPath\x00syscall.Exec\x00 no port driver is available"
	proxyModuleV2 = "\x7fELF go1.24.4 path\tgithub.com/rootless-containers/rootlesskit/v2/cmd/rootlesskit-docker-proxy " +
		"\x00github.com/rootless-containers/rootlesskit/v2/pkg/api/client.(*client).Info\x00syscall.Exec\x00"
)

// TestDockerProxyImplicit: dockerd < 28 with the implicit port driver is refused only when its
// rootlesskit-docker-proxy is RootlessKit 1's, which fails without a port API; RootlessKit 2's
// (Debian 13's, built under the v1 import path, included) hands the port to docker-proxy,
// which pasta forwards, on either engine. A proxy whose origin cannot be told is not refused.
func TestDockerProxyImplicit(t *testing.T) {
	pasta := []Option{WithNetwork(netdriver.Pasta{})}
	for _, tt := range []struct {
		name, proxy string
		opts        []Option
		refused     bool
		port        string
	}{
		{"debian12-embedded", proxyDebian12, pasta, true, ""},
		{"debian13-embedded", proxyDebian13, pasta, false, portdriver.NameImplicit},
		{"debian13-external", proxyDebian13, append([]Option{WithEngine(EngineExternal)}, pasta...), false, portdriver.NameImplicit},
		{"module-v2", proxyModuleV2, pasta, false, portdriver.NameImplicit},
		{"unknown", "some other program", pasta, false, portdriver.NameImplicit},
		// Only implicit has no port API: builtin goes through RootlessKit's, whichever proxy.
		{"debian12-builtin", proxyDebian12, append([]Option{WithPortDriver(portdriver.Builtin{})}, pasta...), false, portdriver.NameBuiltin},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := trixie().file("/usr/bin/rootlesskit-docker-proxy", tt.proxy)
			p, err, _ := resolveOn(t, f, tt.opts...)
			var got *diag.Finding
			for _, fd := range diag.List(err) {
				if fd.ID == IDDockerProxyTooOld {
					got = fd
				}
			}
			switch {
			case tt.refused && got == nil:
				t.Fatalf("not refused with %s: %v", IDDockerProxyTooOld, err)
			case !tt.refused && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refused:
				if !strings.Contains(got.Evidence, "without syscall.Exec") || !strings.Contains(got.Detail, "RootlessKit 1's") || got.Fix == "" {
					t.Errorf("finding %+v: want the evidence of its version and a fix", got)
				}
			default:
				if p.Port.Name() != tt.port {
					t.Errorf("port driver %s, want %s", p.Port.Name(), tt.port)
				}
			}
		})
	}
	// Debian 13's stack as the guest has it, on both engines: a plan, and the warning that
	// 127.0.0.1 publishes reset with RootlessKit 2.0 (internal/guest's TestDriverCombinations).
	for _, eng := range []Engine{EngineEmbedded, EngineExternal} {
		p, err, _ := resolveOn(t, trixie().file("/usr/bin/rootlesskit-docker-proxy", proxyDebian13), append([]Option{WithEngine(eng), WithSourceIP(true)}, pasta...)...)
		goldenFile(t, filepath.Join("plans", "trixie-pasta-implicit-"+eng.String()+".golden"), planText(p, err))
	}
	p, err, _ := resolveOn(t, trixie().file("/usr/bin/rootlesskit-docker-proxy", proxyDebian12), pasta...)
	goldenFile(t, filepath.Join("plans", "pasta-implicit-proxy-v1.golden"), planText(p, err))
}

func TestModulePathMajor(t *testing.T) {
	for path, want := range map[string]int{
		"github.com/rootless-containers/rootlesskit/cmd/rootlesskit-docker-proxy":     1,
		"github.com/rootless-containers/rootlesskit/v2/cmd/rootlesskit-docker-proxy":  2,
		"github.com/rootless-containers/rootlesskit/v3/cmd/rootlesskit-docker-proxy":  3,
		"github.com/rootless-containers/rootlesskit":                                  1,
		"github.com/rootless-containers/rootlesskitfork/cmd/rootlesskit-docker-proxy": 0,
		"example.com/rootlesskit-docker-proxy":                                        0,
		"command-line-arguments":                                                      0,
	} {
		if got := modulePathMajor(path); got != want {
			t.Errorf("modulePathMajor(%q) = %d, want %d", path, got, want)
		}
	}
}
