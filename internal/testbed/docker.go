//go:build linux

package testbed

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/rootlessd/rootlessd/hack/testimage/wire"
)

// ProbeBody is what the test image's HTTP responder answers to GET /.
const ProbeBody = wire.Body

// Client connects to the daemon at host (a unix:// DOCKER_HOST value) with API version
// negotiation, so one client serves both engine stacks.
func Client(tb testing.TB, host string) *client.Client {
	tb.Helper()
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		tb.Fatalf("docker client for %s: %v", host, err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

// LoadImage loads the test image into the daemon.
func LoadImage(tb testing.TB, cli *client.Client, bed *Bed) {
	tb.Helper()
	f, err := os.Open(bed.Image)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	resp, err := cli.ImageLoad(tb.Context(), f, client.ImageLoadWithQuiet(true))
	if err != nil {
		tb.Fatalf("load test image: %v", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(out), `"error"`) {
		tb.Fatalf("load test image: %s", out)
	}
}

// RunProbe starts the test image's program in a container with containerPort published on
// 127.0.0.1:hostPort, and removes the container at cleanup. args default to the HTTP responder.
func RunProbe(tb testing.TB, cli *client.Client, bed *Bed, hostPort, containerPort int, args ...string) string {
	tb.Helper()
	ctx := tb.Context()
	if len(args) == 0 {
		args = []string{"/bin/probe", "http"}
	}
	cport := nat.Port(fmt.Sprintf("%d/tcp", containerPort))
	created, err := cli.ContainerCreate(ctx,
		&container.Config{Image: bed.ImageTag, Cmd: args, ExposedPorts: nat.PortSet{cport: {}}},
		&container.HostConfig{PortBindings: nat.PortMap{cport: {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(hostPort)}}}},
		nil, nil, "")
	if err != nil {
		tb.Fatalf("create probe container: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true})
	})
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		tb.Fatalf("start probe container: %v", err)
	}
	return created.ID
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Get fetches url, retrying while the published port is not answering yet (the container's
// program needs a moment to listen). It fails tb after wait.
func Get(tb testing.TB, url string, wait time.Duration) string {
	tb.Helper()
	body, err := TryGet(url, wait)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	return body
}

// TryGet GETs url until it answers 200 or wait passes, and returns the body or the last error.
func TryGet(url string, wait time.Duration) (string, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(wait)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(body), nil
			}
			err = fmt.Errorf("status %s, body %q, read error %v", resp.Status, body, rerr)
		}
		if time.Now().After(deadline) {
			return "", err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// AssertRootless fails tb unless the daemon's info reports the rootless security option.
func AssertRootless(tb testing.TB, cli *client.Client) {
	tb.Helper()
	info, err := cli.Info(tb.Context())
	if err != nil {
		tb.Fatalf("docker info: %v", err)
	}
	if !slices.Contains(info.SecurityOptions, "name=rootless") {
		tb.Fatalf("docker info security options %v lack name=rootless", info.SecurityOptions)
	}
}

// ServeProbe loads the test image into the daemon at host, runs the probe's HTTP responder with
// port 80 published on 127.0.0.1, and fails tb unless a GET from the host through that port
// returns the probe's body. It returns the client and the published port.
func ServeProbe(tb testing.TB, bed *Bed, host string) (*client.Client, int) {
	tb.Helper()
	cli := Client(tb, host)
	LoadImage(tb, cli, bed)
	port := FreePort(tb)
	RunProbe(tb, cli, bed, port, 80)
	if body := Get(tb, fmt.Sprintf("http://127.0.0.1:%d/", port), time.Minute); body != ProbeBody {
		tb.Fatalf("GET through the published port 127.0.0.1:%d: body %q, want %q", port, body, ProbeBody)
	}
	return cli, port
}

// RunOnce runs cmd in a container of the test image with host config hc (nil for none), waits
// for it to exit, removes it, and returns its exit status and output.
func RunOnce(tb testing.TB, cli *client.Client, bed *Bed, hc *container.HostConfig, cmd ...string) (int, string) {
	tb.Helper()
	ctx := tb.Context()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: bed.ImageTag, Cmd: cmd}, hc, nil, nil, "")
	if err != nil {
		tb.Fatalf("create container: %v", err)
	}
	defer cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		tb.Fatalf("start container: %v", err)
	}
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	var code int
	select {
	case w := <-waitC:
		code = int(w.StatusCode)
	case err := <-errC:
		tb.Fatalf("wait for container: %v", err)
	}
	logs, err := cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		tb.Fatalf("container logs: %v", err)
	}
	defer logs.Close()
	raw, _ := io.ReadAll(logs)
	return code, demux(raw)
}

// demux strips the 8-byte stream headers of a non-TTY container's log stream.
func demux(b []byte) string {
	var out strings.Builder
	for len(b) >= 8 {
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		b = b[8:]
		n = min(n, len(b))
		out.Write(b[:n])
		b = b[n:]
	}
	return out.String()
}

// FreeStaticPort returns a port below the host's ephemeral range (net.ipv4.ip_local_port_range)
// that was free for TCP and UDP on all addresses a moment ago. pasta's implicit port driver
// forwards only such ports: it never binds an ephemeral one.
func FreeStaticPort(tb testing.TB) int {
	tb.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	const from = 20000 // above the ports services usually take
	if low <= from+100 {
		tb.Fatalf("ip_local_port_range starts at %d: no static ports to test with", low)
	}
	for range 200 {
		p := from + rand.IntN(low-from)
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", fmt.Sprintf(":%d", p))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return p
	}
	tb.Fatalf("no free port between %d and %d", from, low)
	return 0
}

// AskUDP sends a datagram to addr and returns the first answer, retrying while nothing answers
// (the container's program needs a moment to listen). It fails tb after wait.
func AskUDP(tb testing.TB, addr string, wait time.Duration) string {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for {
		answer, err := askUDPOnce(addr)
		if err == nil {
			return answer
		}
		if time.Now().After(deadline) {
			tb.Fatalf("UDP %s: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func askUDPOnce(addr string) (string, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Write([]byte("who am I?")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
