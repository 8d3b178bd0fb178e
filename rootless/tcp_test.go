package rootless

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/portdriver"
)

func tlsFixture(t *testing.T) TLSFiles {
	dir := t.TempDir()
	f := TLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	for _, p := range []string{f.CA, f.Cert, f.Key} {
		if err := os.WriteFile(p, []byte("-----BEGIN-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestTCPAPIOptions: TLS is required unless the option's name says the API is insecure, and the
// flags and published port follow where dockerd's network namespace is.
func TestTCPAPIOptions(t *testing.T) {
	files := tlsFixture(t)
	addr := netip.MustParseAddrPort("0.0.0.0:2376")
	for _, tc := range []struct {
		name string
		opt  Option
		want string
	}{
		{"no TLS", WithTCPAPI(addr, TLSFiles{}), "WithInsecureTCPAPI"},
		{"relative", WithTCPAPI(addr, TLSFiles{CA: "ca.pem", Cert: files.Cert, Key: files.Key}), "not absolute"},
		{"missing", WithTCPAPI(addr, TLSFiles{CA: files.CA, Cert: files.Cert, Key: files.Key + ".gone"}), "no such file"},
		{"no port", WithTCPAPI(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0), files), "with a port"},
		{"zero", WithInsecureTCPAPI(netip.AddrPort{}), "with a port"},
	} {
		_, err := newConfig([]Option{tc.opt})
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalidOption mentioning %q", tc.name, err, tc.want)
		}
	}

	c, err := newConfig([]Option{WithTCPAPI(addr, files)})
	if err != nil {
		t.Fatal(err)
	}
	wantTLS := []string{"--tlsverify", "--tlscacert=" + files.CA, "--tlscert=" + files.Cert, "--tlskey=" + files.Key}
	if got := tcpArgs(c.tcp, false); !slices.Equal(got, append([]string{"--host=tcp://0.0.0.0:2376"}, wantTLS...)) {
		t.Errorf("in RootlessKit's namespace: args %q", got)
	}
	if got := tcpPublish(c.tcp, false); len(got) != 1 || got[0].Parent.Addr().IsValid() || got[0].Parent.Port() != 2376 || got[0].ChildPort != 2376 || got[0].Proto != portdriver.TCP {
		t.Errorf("in RootlessKit's namespace: publish %+v", got)
	}
	if got := tcpArgs(c.tcp, true); got[0] != "--host=tcp://0.0.0.0:2376" || len(tcpPublish(c.tcp, true)) != 0 {
		t.Errorf("detached: args %q publish %v; want dockerd to listen itself, nothing published", got, tcpPublish(c.tcp, true))
	}

	c, err = newConfig([]Option{WithInsecureTCPAPI(netip.MustParseAddrPort("127.0.0.1:2375"))})
	if err != nil {
		t.Fatal(err)
	}
	if got := tcpArgs(c.tcp, false); !slices.Equal(got, []string{"--host=tcp://0.0.0.0:2375", "--tls=false"}) {
		t.Errorf("insecure: %q", got)
	}
	if got := tcpPublish(c.tcp, false); got[0].Parent != netip.MustParseAddrPort("127.0.0.1:2375") {
		t.Errorf("insecure publish: %+v, want the loopback address only", got)
	}
	// WithDockerdArgs still refuses a TCP host without --tlsverify.
	if _, err := newConfig([]Option{WithDockerdArgs("-H", "tcp://0.0.0.0:2375")}); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("WithDockerdArgs with plain TCP: %v", err)
	}
}
