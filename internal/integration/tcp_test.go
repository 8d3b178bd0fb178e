//go:build integration

package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// pki is a CA and certificates made for one test.
type pki struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  string // path
	server rootless.TLSFiles
}

func newPKI(t *testing.T, dir string) *pki {
	t.Helper()
	p := &pki{dir: dir}
	p.caKey = genKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rootlessd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caPEM = p.writePEM(t, "ca.pem", "CERTIFICATE", der)
	cert, key := p.issue(t, "server", x509.ExtKeyUsageServerAuth)
	p.server = rootless.TLSFiles{CA: p.caPEM, Cert: cert, Key: key}
	return p
}

func genKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue makes a certificate signed by the CA, for 127.0.0.1 and localhost.
func (p *pki) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certPath, keyPath string) {
	t.Helper()
	key := genKey(t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.writePEM(t, name+"-cert.pem", "CERTIFICATE", der), p.writePEM(t, name+"-key.pem", "EC PRIVATE KEY", kder)
}

func (p *pki) writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTCPAPIWithTLS publishes the API on a host port with mutual TLS, on both stacks (the
// current one runs dockerd in the host's network namespace, the distro one in RootlessKit's,
// behind the port driver): a client with a certificate of the CA gets in through the Docker
// client library; one without a certificate, one with a certificate of another CA, and plain
// HTTP are refused.
func TestTCPAPIWithTLS(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			u := bed.Self()
			certs := newPKI(t, testbed.ScratchDir(t, bed, stack, u.RuntimeDir))
			port := testbed.FreePort(t)
			addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
			d := launch(t, bed, stack, rootless.WithTCPAPI(addr, certs.server))
			t.Logf("detach-netns=%v port driver=%s", d.Info().DetachNetNS, d.Info().Port.Name())

			cert, key := certs.issue(t, "client", x509.ExtKeyUsageClientAuth)
			cli, err := client.NewClientWithOpts(client.WithHost("tcp://"+addr.String()),
				client.WithTLSClientConfig(certs.caPEM, cert, key), client.WithAPIVersionNegotiation())
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			v, err := cli.ServerVersion(t.Context())
			if err != nil {
				t.Fatalf("version over mutual TLS: %v", err)
			}
			testbed.AssertRootless(t, cli)
			t.Logf("over mTLS at %s: dockerd %s", addr, v.Version)

			pool := x509.NewCertPool()
			pool.AddCert(certs.ca)
			other := newPKI(t, t.TempDir())
			oc, ok := other.issue(t, "stranger", x509.ExtKeyUsageClientAuth)
			strangerCert, err := tls.LoadX509KeyPair(oc, ok)
			if err != nil {
				t.Fatal(err)
			}
			for name, cfg := range map[string]*tls.Config{
				"no certificate":              {RootCAs: pool},
				"a certificate of another CA": {RootCAs: pool, Certificates: []tls.Certificate{strangerCert}},
			} {
				hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
				resp, err := hc.Get("https://" + addr.String() + "/_ping")
				if err == nil {
					resp.Body.Close()
					t.Errorf("client with %s: %s, want the TLS handshake refused", name, resp.Status)
				} else {
					t.Logf("client with %s refused: %v", name, err)
				}
			}
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr.String() + "/_ping")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Error("plain HTTP got the API")
				}
			}
		})
	}
}

// TestTCPAPIInsecure: without TLS the option's name says so, and the API answers plain HTTP.
func TestTCPAPIInsecure(t *testing.T) {
	bed := testbed.Require(t)
	stack := bed.Stacks[len(bed.Stacks)-1]
	port := testbed.FreePort(t)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	launch(t, bed, stack, rootless.WithInsecureTCPAPI(addr))
	cli := testbed.Client(t, fmt.Sprintf("tcp://%s", addr))
	testbed.AssertRootless(t, cli)
}
