//go:build integration

package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

// TestSwitchHostLoopback: with WithHostLoopback a container reaches a service that listens only
// on the host's 127.0.0.1, through host.docker.internal (host-gateway); without it, it cannot.
func TestSwitchHostLoopback(t *testing.T) {
	bed := testbed.Require(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "host loopback\n") })}
	go srv.Serve(l)
	defer srv.Close()
	url := fmt.Sprintf("http://host.docker.internal:%d/", l.Addr().(*net.TCPAddr).Port)
	hc := &container.HostConfig{ExtraHosts: []string{"host.docker.internal:host-gateway"}}
	for _, stack := range bed.Stacks {
		for _, on := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/loopback=%v", stack.Name, on), func(t *testing.T) {
				var opts []rootless.Option
				if on {
					opts = append(opts, rootless.WithHostLoopback(true))
				}
				d := launch(t, bed, stack, opts...)
				if on && !d.Info().HostGateway.IsValid() {
					t.Fatal("Info().HostGateway is empty with WithHostLoopback")
				}
				cli := testbed.Client(t, d.Host())
				testbed.LoadImage(t, cli, bed)
				code, out := testbed.RunOnce(t, cli, bed, hc, "/bin/probe", "get", "-url", url)
				switch {
				case on && (code != 0 || out != "host loopback\n"):
					t.Fatalf("GET %s from a container: exit %d, %q; want the host's answer", url, code, out)
				case !on && (code != 1 || !strings.HasPrefix(out, "error: ")):
					t.Fatalf("GET %s from a container: exit %d, %q; want a connection error (host loopback is off)", url, code, out)
				}
			})
		}
	}
}

// TestSwitchMTUClamp: this host's default route has a small MTU (1400 on the test bed); with
// WithMTUClamp the namespace and the containers' network use it instead of 65520.
func TestSwitchMTUClamp(t *testing.T) {
	bed := testbed.Require(t)
	r, err := netdriver.LocalHost().DefaultRoute()
	if err != nil || r.MTU >= 1500 {
		t.Fatalf("the test needs a default route with an MTU below 1500 (have %+v, %v)", r, err)
	}
	stack, _ := bed.Stack("current")
	d := launch(t, bed, stack, rootless.WithMTUClamp(true))
	if d.Info().MTU != r.MTU {
		t.Fatalf("Info().MTU = %d, want the default route's %d", d.Info().MTU, r.MTU)
	}
	cli := testbed.Client(t, d.Host())
	testbed.LoadImage(t, cli, bed)
	code, out := testbed.RunOnce(t, cli, bed, nil, "cat", "/sys/class/net/eth0/mtu")
	if code != 0 || strings.TrimSpace(out) != strconv.Itoa(r.MTU) {
		t.Fatalf("container eth0 MTU: exit %d, %q; want %d", code, out, r.MTU)
	}
}

// TestSwitchSourceIP: a client connecting from the host's own non-loopback address is seen by
// the container with that address when WithSourceIP is on, and through a proxy without it.
func TestSwitchSourceIP(t *testing.T) {
	bed := testbed.Require(t)
	client := outboundAddr(t)
	stack, _ := bed.Stack("current")
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("sourceIP=%v", on), func(t *testing.T) {
			var opts []rootless.Option
			if on {
				opts = append(opts, rootless.WithSourceIP(true))
			}
			d := launch(t, bed, stack, opts...)
			cli := testbed.Client(t, d.Host())
			testbed.LoadImage(t, cli, bed)
			port := testbed.FreePort(t)
			p := nat.Port("80/tcp")
			c, err := cli.ContainerCreate(t.Context(), &container.Config{Image: bed.ImageTag, Cmd: []string{"/bin/probe", "http"}, ExposedPorts: nat.PortSet{p: {}}},
				&container.HostConfig{PortBindings: nat.PortMap{p: {{HostIP: "0.0.0.0", HostPort: strconv.Itoa(port)}}}}, nil, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			defer cli.ContainerRemove(t.Context(), c.ID, container.RemoveOptions{Force: true})
			if err := cli.ContainerStart(t.Context(), c.ID, container.StartOptions{}); err != nil {
				t.Fatal(err)
			}
			seen := testbed.Get(t, fmt.Sprintf("http://%s/remote", net.JoinHostPort(client, strconv.Itoa(port))), time.Minute)
			host, _, _ := net.SplitHostPort(seen)
			if (host == client) != on {
				t.Fatalf("the container saw the client %s as %s (%s+%s); want kept=%v", client, seen, d.Info().Network.Name(), d.Info().Port.Name(), on)
			}
		})
	}
}

// outboundAddr is this host's address on its default route.
func outboundAddr(t *testing.T) string {
	t.Helper()
	c, err := net.Dial("udp", "192.0.2.1:9") // no packet is sent: this only picks the source address
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}
