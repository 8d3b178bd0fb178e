//go:build integration

package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/internal/testbed"
)

// TestSpeedupsKeepNetworking launches a daemon of each stack with the default choices, which
// turn on every speed-up of the benchmark (internal/bench) that the stack allows (dockerd's
// nftables firewall backend where dockerd has it), and proves that what users get from the
// firewall is still there: a published port reaches its container from the host, a container
// reaches the host's network (NAT), containers on one user-defined network reach each other by
// name, and a container on another network cannot reach them (the isolation rules), while the
// same address answers from the right network.
func TestSpeedupsKeepNetworking(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			d := launch(t, bed, stack)
			cli, _ := testbed.ServeProbe(t, bed, d.Host()) // -p, from the host
			info, err := cli.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			nft := slices.Contains(d.Info().DockerdArgs, "--firewall-backend=nftables")
			if d.Info().Dockerd.Nftables != nft {
				t.Fatalf("dockerd %s has the nftables backend: %v, but its arguments %q say %v", d.Info().Dockerd.Version, d.Info().Dockerd.Nftables, d.Info().DockerdArgs, nft)
			}
			if stack.Name == "current" && !nft {
				t.Fatalf("the current stack's dockerd %s runs without the nftables backend: %q", d.Info().Dockerd.Version, d.Info().DockerdArgs)
			}
			if fb := info.FirewallBackend; nft && (fb == nil || fb.Driver != "nftables") {
				t.Fatalf("docker info says firewall backend %+v, want nftables", fb)
			}
			t.Logf("%s: dockerd %s, nftables backend %v", stack.Name, d.Info().Dockerd.Version, nft)
			checkStaticSubids(t, d.Info().RootlessKitFlags, d.Info().Paths.RootlessKitStateDir)

			// Outbound: a container reaches a server on the host's own address.
			hostURL := serveHTTP(t, outboundAddr(t), "rootlessd-outbound-ok")
			if code, out := testbed.RunOnce(t, cli, bed, nil, "/bin/probe", "get", "-url", hostURL); code != 0 || out != "rootlessd-outbound-ok" {
				t.Fatalf("a container GET %s from the default bridge: exit %d, %q", hostURL, code, out)
			}

			// Container to container on a user-defined network, by name, and isolation from
			// another network.
			netA, netB := "rd-a-"+stack.Name, "rd-b-"+stack.Name
			for _, n := range []string{netA, netB} {
				if _, err := cli.NetworkCreate(t.Context(), n, network.CreateOptions{}); err != nil {
					t.Fatalf("network create %s: %v", n, err)
				}
			}
			server := runOn(t, cli, bed, netA, "rd-server", "/bin/probe", "http")
			ins, err := cli.ContainerInspect(t.Context(), server)
			if err != nil {
				t.Fatal(err)
			}
			ip := ins.NetworkSettings.Networks[netA].IPAddress
			if ip == "" {
				t.Fatalf("the server has no address on %s: %+v", netA, ins.NetworkSettings.Networks)
			}
			byName := waitGet(t, cli, bed, netA, "http://rd-server/")
			if byName != testbed.ProbeBody {
				t.Fatalf("GET http://rd-server/ from %s: %q", netA, byName)
			}
			if code, out := testbed.RunOnce(t, cli, bed, &container.HostConfig{NetworkMode: container.NetworkMode(netA)}, "/bin/probe", "get", "-url", "http://"+ip+"/"); code != 0 || out != testbed.ProbeBody {
				t.Fatalf("GET http://%s/ from %s (the server's own network): exit %d, %q", ip, netA, code, out)
			}
			code, out := testbed.RunOnce(t, cli, bed, &container.HostConfig{NetworkMode: container.NetworkMode(netB)}, "/bin/probe", "get", "-url", "http://"+ip+"/")
			if code == 0 || strings.Contains(out, testbed.ProbeBody) {
				t.Fatalf("a container on %s reached the server on %s at %s (exit %d, %q): the isolation rules are missing", netB, netA, ip, code, out)
			}
			t.Logf("%s: from %s, %s answers %q (the isolation rules hold)", stack.Name, netB, ip, strings.TrimSpace(out))
		})
	}
}

// serveHTTP serves body on addr:0 until the test ends and returns its URL.
func serveHTTP(t *testing.T, addr, body string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/"
}

// runOn starts a named container of the test image on the network n and removes it at cleanup.
func runOn(t *testing.T, cli *client.Client, bed *testbed.Bed, n, name string, cmd ...string) string {
	t.Helper()
	c, err := cli.ContainerCreate(t.Context(), &container.Config{Image: bed.ImageTag, Cmd: cmd},
		&container.HostConfig{NetworkMode: container.NetworkMode(n)}, nil, nil, name)
	if err != nil {
		t.Fatalf("create %s on %s: %v", name, n, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	})
	if err := cli.ContainerStart(t.Context(), c.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return c.ID
}

// waitGet GETs url from a container on network n until it answers (the server needs a moment
// to listen), for at most a minute, and returns the body.
func waitGet(t *testing.T, cli *client.Client, bed *testbed.Bed, n, url string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, out := testbed.RunOnce(t, cli, bed, &container.HostConfig{NetworkMode: container.NetworkMode(n)}, "/bin/probe", "get", "-url", url)
		if code == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s from %s: exit %d, %q", url, n, code, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkStaticSubids: on the bed, whose nsswitch.conf sends the subid database to the files,
// RootlessKit reads /etc/subuid and /etc/subgid itself (no getsubids runs), and the daemon's
// user namespace maps this user to root and the user's subordinate ranges after it, as the
// files say.
func checkStaticSubids(t *testing.T, flags []string, stateDir string) {
	t.Helper()
	if !slices.Contains(flags, "--subid-source=static") {
		t.Fatalf("RootlessKit's flags %q lack --subid-source=static", flags)
	}
	u, err := idmap.LookupUser(strconv.Itoa(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := idmap.Lookup(t.Context(), idmap.Files{}, u)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := os.ReadFile(filepath.Join(stateDir, "child_pid"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		file   string
		id     uint32
		ranges []idmap.Range
	}{{"uid_map", u.UID, s.UIDs}, {"gid_map", u.GID, s.GIDs}} {
		b, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/" + m.file)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(string(b))
		want := []string{"0", strconv.FormatUint(uint64(m.id), 10), "1"}
		next := uint64(1)
		for _, r := range m.ranges {
			want = append(want, strconv.FormatUint(next, 10), strconv.FormatUint(uint64(r.Start), 10), strconv.FormatUint(uint64(r.Count), 10))
			next += uint64(r.Count)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("RootlessKit's child's %s is %q, want %q (from /etc/sub%sid)", m.file, got, want, m.file[:1])
		}
	}
}
