package rootless

import (
	"net/netip"
	"os"
	"path/filepath"

	"github.com/rootlessd/rootlessd/portdriver"
)

// TLSFiles are the PEM files of a TLS endpoint, by absolute path: dockerd's --tlscacert,
// --tlscert and --tlskey. Clients must present a certificate signed by CA.
type TLSFiles struct {
	CA   string // the CA that signs the clients' certificates
	Cert string // the daemon's certificate; its names must include the address clients dial
	Key  string // the daemon's private key
}

// tcpAPI is the Docker API on a host address, from WithTCPAPI or WithInsecureTCPAPI.
type tcpAPI struct {
	addr netip.AddrPort
	tls  *TLSFiles // nil: no authentication (WithInsecureTCPAPI)
}

// WithTCPAPI also serves the Docker API on addr of the host, with mutual TLS (dockerd's
// --tlsverify): only clients with a certificate signed by tls.CA get in, and the traffic is
// encrypted. This is the seed's recipe, DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS="-p
// 0.0.0.0:2376:2376/tcp" with -H tcp://0.0.0.0:2376 --tlsverify, done right for either
// network namespace: the port is published through the port driver when dockerd runs in
// RootlessKit's namespace, and dockerd listens on addr itself when it runs in the host's
// (WithDetachNetNS), where a published port would take the address from it. An unspecified
// address (0.0.0.0, ::) listens on every interface. A later call replaces an earlier one.
// Default: the unix socket only.
func WithTCPAPI(addr netip.AddrPort, tls TLSFiles) Option {
	return optionFunc(func(c *config) error {
		if err := checkTCPAddr("WithTCPAPI", addr); err != nil {
			return err
		}
		for _, f := range []struct{ name, path string }{{"CA", tls.CA}, {"Cert", tls.Cert}, {"Key", tls.Key}} {
			switch {
			case f.path == "":
				return optionError("WithTCPAPI", "TLSFiles.%s is empty: the TCP API needs mutual TLS (WithInsecureTCPAPI serves it without, for those who accept the risk)", f.name)
			case !filepath.IsAbs(f.path):
				return optionError("WithTCPAPI", "TLSFiles.%s %q is not absolute", f.name, f.path)
			}
			if _, err := os.Stat(f.path); err != nil {
				return optionError("WithTCPAPI", "TLSFiles.%s: %v", f.name, err)
			}
		}
		c.tcp = &tcpAPI{addr: addr, tls: &tls}
		return nil
	})
}

// WithInsecureTCPAPI also serves the Docker API on addr of the host with no authentication
// and no encryption. Anyone who can connect to addr controls the daemon, and through it every
// file of this user: use it only on a loopback address of a machine nobody else uses, or
// behind something that authenticates. Prefer WithTCPAPI. It is published like WithTCPAPI's,
// and a later call of either replaces an earlier one. Default: the unix socket only.
func WithInsecureTCPAPI(addr netip.AddrPort) Option {
	return optionFunc(func(c *config) error {
		if err := checkTCPAddr("WithInsecureTCPAPI", addr); err != nil {
			return err
		}
		c.tcp = &tcpAPI{addr: addr}
		return nil
	})
}

func checkTCPAddr(option string, addr netip.AddrPort) error {
	if !addr.IsValid() || addr.Port() == 0 {
		return optionError(option, "%v is not an address with a port, like 0.0.0.0:2376", addr)
	}
	if addr.Addr().Zone() != "" {
		return optionError(option, "%v: zoned addresses are not supported", addr)
	}
	return nil
}

// tcpPublish is the port the TCP API t needs published: none unless dockerd runs in
// RootlessKit's network namespace (not detached).
func tcpPublish(t *tcpAPI, detached bool) []portdriver.Spec {
	if t == nil || detached {
		return nil
	}
	parent := t.addr
	if parent.Addr().IsUnspecified() {
		parent = netip.AddrPortFrom(netip.Addr{}, parent.Port()) // every address, both families
	}
	return []portdriver.Spec{{Proto: portdriver.TCP, Parent: parent, ChildPort: t.addr.Port()}}
}

// tcpArgs are dockerd's flags for the TCP API. Inside RootlessKit's namespace dockerd listens
// on every address: only the port driver reaches it there, at the address its driver
// forwards to (127.0.0.1 for builtin, the namespace's own for slirp4netns).
func tcpArgs(t *tcpAPI, detached bool) []string {
	if t == nil {
		return nil
	}
	listen := t.addr
	if !detached {
		listen = netip.AddrPortFrom(netip.IPv4Unspecified(), t.addr.Port())
	}
	args := []string{"--host=tcp://" + listen.String()}
	if t.tls == nil {
		return append(args, "--tls=false") // dockerd >= 27 wants the insecure choice spelled out
	}
	return append(args, "--tlsverify", "--tlscacert="+t.tls.CA, "--tlscert="+t.tls.Cert, "--tlskey="+t.tls.Key)
}
