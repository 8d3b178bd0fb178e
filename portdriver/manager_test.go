package portdriver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/rootless-containers/rootlesskit/v3/pkg/api"
	"github.com/rootless-containers/rootlesskit/v3/pkg/api/router"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/portutil"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// fakePorts is an in-memory port driver behind RootlessKit's real router.
type fakePorts struct {
	info api.PortDriverInfo
	mu   sync.Mutex
	next int
	m    map[int]*port.Status
	// refuseBelow makes AddPort fail like the builtin driver for ports
	// below it (bind: permission denied).
	refuseBelow int
}

func (f *fakePorts) Info(context.Context) (*api.PortDriverInfo, error) { return &f.info, nil }

func (f *fakePorts) AddPort(_ context.Context, s port.Spec) (*port.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := portutil.ValidatePortSpec(s, f.m); err != nil {
		return nil, err
	}
	if s.ParentPort < f.refuseBelow {
		return nil, fmt.Errorf("cannot expose privileged port %d, you can add 'net.ipv4.ip_unprivileged_port_start=%d' to /etc/sysctl.conf (currently 1024): listen tcp 0.0.0.0:%d: bind: permission denied", s.ParentPort, s.ParentPort, s.ParentPort)
	}
	f.next++
	st := &port.Status{ID: f.next, Spec: s}
	f.m[f.next] = st
	return st, nil
}

func (f *fakePorts) ListPorts(context.Context) ([]port.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []port.Status
	for _, st := range f.m {
		out = append(out, *st)
	}
	return out, nil
}

func (f *fakePorts) RemovePort(_ context.Context, id int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[id]; !ok {
		return fmt.Errorf("unknown id: %d", id)
	}
	delete(f.m, id)
	return nil
}

type fakeNet struct{ name string }

func (n fakeNet) Info(context.Context) (*api.NetworkDriverInfo, error) {
	return &api.NetworkDriverInfo{Driver: n.name, ChildIP: net.ParseIP("10.0.2.100")}, nil
}

// serve runs RootlessKit's API router on a socket in a temporary
// directory and returns the socket's path.
func serve(t *testing.T, netName string, pd *fakePorts) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	b := &router.Backend{StateDir: dir, ChildPID: 42, NetworkDriver: fakeNet{netName}}
	if pd != nil {
		pd.m = map[int]*port.Status{}
		b.PortDriver = pd
	}
	mux := http.NewServeMux()
	router.AddRoutes(mux, b)
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func testHost(start string, caps map[string][]byte) *netdriver.Host {
	return &netdriver.Host{
		FS: fstest.MapFS{"proc/sys/net/ipv4/ip_unprivileged_port_start": {Data: []byte(start + "\n")}},
		Getxattr: func(name, attr string) ([]byte, error) {
			if b, ok := caps[name]; ok {
				return b, nil
			}
			return nil, syscall.ENODATA
		},
	}
}

func builtinInfo() api.PortDriverInfo {
	return api.PortDriverInfo{Driver: "builtin", Protos: []string{"tcp", "tcp4", "tcp6", "udp", "udp4", "udp6"}}
}

func TestManagerAddListRemove(t *testing.T) {
	ctx := context.Background()
	sock := serve(t, "slirp4netns", &fakePorts{info: builtinInfo()})
	m, err := portdriver.NewManager(sock, portdriver.WithHost(testHost("1024", nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info, err := m.Info(ctx)
	if err != nil || info.PortDriver.Driver != "builtin" || info.NetworkDriver.Driver != "slirp4netns" || info.ChildPID != 42 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	s1, _ := portdriver.ParseSpec("127.0.0.1:8080:80/tcp")
	s2, _ := portdriver.ParseSpec("[::1]:5353:53/udp6")
	st1, err := m.Add(ctx, s1)
	if err != nil || st1.ID != 1 || st1.Spec != s1 {
		t.Fatalf("Add = %+v, %v", st1, err)
	}
	if _, err := m.Add(ctx, s2); err != nil {
		t.Fatal(err)
	}
	_, err = m.Add(ctx, s1)
	if !errors.Is(err, netdriver.IDRootlessKitAPI) || !strings.Contains(err.Error(), "conflict with ID 1") || !strings.Contains(diag.Remedy(err), "remove the existing port") {
		t.Errorf("duplicate Add: %v", err)
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != 1 || list[1].Spec != s2 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := m.Remove(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, 1); err == nil || !strings.Contains(err.Error(), "unknown id: 1") {
		t.Errorf("second Remove: %v", err)
	}
	if list, _ := m.List(ctx); len(list) != 1 {
		t.Errorf("after Remove: %+v", list)
	}
}

func TestManagerNoAPI(t *testing.T) {
	ctx := context.Background()
	sock := serve(t, "pasta", nil) // implicit: no port driver
	m, _ := portdriver.NewManager(sock, portdriver.WithHost(testHost("1024", nil)))
	s, _ := portdriver.ParseSpec("8080:80")
	_, err := m.Add(ctx, s)
	if !errors.Is(err, netdriver.IDNoPortAPI) || !strings.Contains(err.Error(), "pasta forwards every port") {
		t.Errorf("Add with implicit: %v", err)
	}
	if _, err := m.List(ctx); !errors.Is(err, netdriver.IDNoPortAPI) {
		t.Errorf("List with implicit: %v", err)
	}
	if err := m.Remove(ctx, 1); !errors.Is(err, netdriver.IDNoPortAPI) {
		t.Errorf("Remove with implicit: %v", err)
	}
}

func TestManagerProtocolAndChildIP(t *testing.T) {
	ctx := context.Background()
	sock := serve(t, "slirp4netns", &fakePorts{info: api.PortDriverInfo{Driver: "slirp4netns", Protos: []string{"tcp", "tcp4", "udp", "udp4"}, DisallowLoopbackChildIP: true}})
	m, _ := portdriver.NewManager(sock, portdriver.WithHost(testHost("1024", nil)))
	s, _ := portdriver.ParseSpec("[::1]:8080:80/tcp6")
	if _, err := m.Add(ctx, s); !errors.Is(err, netdriver.IDUnsupported) || !strings.Contains(err.Error(), "does not support protocol tcp6") {
		t.Errorf("tcp6 on slirp4netns: %v", err)
	}
	s, _ = portdriver.ParseSpec("0.0.0.0:8080:127.0.0.1:80/tcp")
	if _, err := m.Add(ctx, s); !errors.Is(err, netdriver.IDUnsupported) || !strings.Contains(diag.Remedy(err), "leave ChildIP zero") {
		t.Errorf("loopback child IP on slirp4netns: %v", err)
	}
	s, _ = portdriver.ParseSpec("8080:80/udp4")
	if _, err := m.Add(ctx, s); err != nil {
		t.Errorf("udp4 on slirp4netns: %v", err)
	}
}

func TestManagerPrivilegedPorts(t *testing.T) {
	ctx := context.Background()
	ep, err := os.ReadFile("testdata/caps/net_bind_service-ep.bin")
	if err != nil {
		t.Fatal(err)
	}
	const bin = "/usr/bin/rootlesskit"
	s80, _ := portdriver.ParseSpec("80:80")

	// The binder is known and lacks the capability: refused up front,
	// RootlessKit is not asked.
	pd := &fakePorts{info: builtinInfo()}
	m, _ := portdriver.NewManager(serve(t, "slirp4netns", pd), portdriver.WithHost(testHost("1024", nil)), portdriver.WithBinder(bin))
	_, err = m.Add(ctx, s80)
	if !errors.Is(err, netdriver.IDPrivilegedPort) {
		t.Fatalf("got %v; want %s", err, netdriver.IDPrivilegedPort)
	}
	for _, want := range []string{"net.ipv4.ip_unprivileged_port_start is 1024", "/usr/bin/rootlesskit has no file capabilities"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	for _, want := range []string{`"net.ipv4.ip_unprivileged_port_start=80"`, "sudo setcap cap_net_bind_service=ep /usr/bin/rootlesskit", "choose a port >= 1024"} {
		if !strings.Contains(diag.Remedy(err), want) {
			t.Errorf("remedy lacks %q: %s", want, diag.Remedy(err))
		}
	}
	if len(pd.m) != 0 {
		t.Errorf("RootlessKit was asked")
	}

	// With the capability it goes through.
	m, _ = portdriver.NewManager(serve(t, "slirp4netns", &fakePorts{info: builtinInfo()}), portdriver.WithHost(testHost("1024", map[string][]byte{bin: ep})), portdriver.WithBinder(bin))
	if _, err := m.Add(ctx, s80); err != nil {
		t.Errorf("with cap_net_bind_service=ep: %v", err)
	}

	// The sysctl allows it.
	m, _ = portdriver.NewManager(serve(t, "slirp4netns", &fakePorts{info: builtinInfo()}), portdriver.WithHost(testHost("0", nil)), portdriver.WithBinder(bin))
	if _, err := m.Add(ctx, s80); err != nil {
		t.Errorf("with ip_unprivileged_port_start=0: %v", err)
	}

	// Unknown binder: RootlessKit is asked, and its refusal is explained.
	m, _ = portdriver.NewManager(serve(t, "slirp4netns", &fakePorts{info: builtinInfo(), refuseBelow: 1024}), portdriver.WithHost(testHost("1024", nil)))
	_, err = m.Add(ctx, s80)
	if !errors.Is(err, netdriver.IDPrivilegedPort) || !strings.Contains(err.Error(), "bind: permission denied") {
		t.Errorf("unknown binder: %v", err)
	}
}

func TestManagerNotRunning(t *testing.T) {
	dir, _ := os.MkdirTemp("", "pd")
	defer os.RemoveAll(dir)
	m, err := portdriver.NewManager(filepath.Join(dir, "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Info(context.Background())
	if !errors.Is(err, netdriver.IDRootlessKitAPI) || !strings.Contains(diag.Remedy(err), "check that RootlessKit is running") {
		t.Errorf("got %v", err)
	}
	for _, bad := range []string{"api.sock", "/" + strings.Repeat("x", 120)} {
		if _, err := portdriver.NewManager(bad); err == nil {
			t.Errorf("NewManager(%q): no error", bad)
		}
	}
}

func TestCheckPrivileged(t *testing.T) {
	ctx := context.Background()
	h := testHost("1024", nil)
	if err := portdriver.CheckPrivileged(ctx, h, 1024, ""); err != nil {
		t.Errorf("1024: %v", err)
	}
	err := portdriver.CheckPrivileged(ctx, h, 443, "")
	if !errors.Is(err, netdriver.IDPrivilegedPort) || !strings.Contains(err.Error(), "the binding executable is unknown") {
		t.Errorf("443: %v", err)
	}
	p, _ := os.ReadFile("testdata/caps/net_bind_service-p.bin")
	err = portdriver.CheckPrivileged(ctx, testHost("1024", map[string][]byte{"/x": p}), 443, "/x")
	if err == nil || !strings.Contains(err.Error(), "permitted but not effective") {
		t.Errorf("=p only: %v", err)
	}
	err = portdriver.CheckPrivileged(ctx, &netdriver.Host{}, 443, "")
	if err == nil || !strings.Contains(err.Error(), "unreadable, assumed 1024") {
		t.Errorf("no sysctl: %v", err)
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	if err := portdriver.CheckPrivileged(c, h, 80, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
