package portdriver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rootless-containers/rootlesskit/v3/pkg/api"
	"github.com/rootless-containers/rootlesskit/v3/pkg/api/client"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
)

// Manager adds, lists and removes published ports of a running RootlessKit
// through its REST API socket (StateDir/api.sock), as dockerd does. It
// works with both engines. Its methods are safe for concurrent use.
//
// Before asking RootlessKit, Add checks what it can locally: the port
// driver has an API (implicit and none do not), supports the protocol,
// and, for ports below net.ipv4.ip_unprivileged_port_start, that the
// binding process may bind them (see [CheckPrivileged] and [WithBinder]).
type Manager struct {
	socket string
	client client.Client
	host   *netdriver.Host
	binder string

	mu   sync.Mutex
	info *api.Info // cached after the first successful Info
}

// ManagerOption configures [NewManager].
type ManagerOption func(*Manager)

// WithHost sets the host whose sysctls and file capabilities the
// privileged-port check reads. Default: [netdriver.LocalHost].
func WithHost(h *netdriver.Host) ManagerOption { return func(m *Manager) { m.host = h } }

// WithBinder sets the absolute path of the executable that binds host
// ports, so privileged ports can be checked before RootlessKit is asked:
// for the builtin and gvisor-tap-vsock drivers the RootlessKit parent (the
// helper executable in the embedded engine, the rootlesskit binary with the
// external engine); for slirp4netns the slirp4netns binary; for pesto the
// pasta binary. Default: unknown; then only the sysctl is checked and a
// refusal from RootlessKit is explained afterwards.
func WithBinder(path string) ManagerOption { return func(m *Manager) { m.binder = path } }

// NewManager returns a Manager for the API socket at socketPath
// (RootlessKit's StateDir/api.sock). It does not connect: RootlessKit need
// not be running yet.
func NewManager(socketPath string, opts ...ManagerOption) (*Manager, error) {
	if !strings.HasPrefix(socketPath, "/") {
		return nil, fmt.Errorf("portdriver: API socket path %q is not absolute", clip(socketPath))
	}
	if len(socketPath) > 107 {
		return nil, fmt.Errorf("portdriver: API socket path %q is longer than 107 bytes, the limit for unix sockets", clip(socketPath))
	}
	m := &Manager{socket: socketPath}
	for _, o := range opts {
		o(m)
	}
	if m.host == nil {
		m.host = netdriver.LocalHost()
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}}
	m.client = client.NewWithHTTPClient(hc)
	return m, nil
}

// Close releases idle connections.
func (m *Manager) Close() error { return m.client.Close() }

// Status is a published port as RootlessKit reports it.
type Status struct {
	// ID identifies the port for Remove.
	ID   int
	Spec Spec
}

// Info returns RootlessKit's GET /v1/info: its version, state directory,
// child PID, and network and port drivers.
func (m *Manager) Info(ctx context.Context) (*api.Info, error) {
	info, err := m.client.Info(ctx)
	if err != nil {
		return nil, m.apiError("", "info", err)
	}
	m.mu.Lock()
	m.info = info
	m.mu.Unlock()
	return info, nil
}

// portInfo returns the cached port driver info (nil if there is no port
// driver) and the network driver name.
func (m *Manager) portInfo(ctx context.Context) (*api.PortDriverInfo, string, error) {
	m.mu.Lock()
	info := m.info
	m.mu.Unlock()
	if info == nil {
		var err error
		if info, err = m.Info(ctx); err != nil {
			return nil, "", err
		}
	}
	netName := ""
	if info.NetworkDriver != nil {
		netName = info.NetworkDriver.Driver
	}
	return info.PortDriver, netName, nil
}

// noAPI explains why ports cannot be managed. net is the network driver
// name, if known.
func noAPI(port, net string) error {
	var detail string
	switch {
	case port == NameImplicit || port == "" && net == netdriver.NamePasta:
		detail = "RootlessKit runs without a port API (port driver implicit): pasta forwards every port listened on in the namespace by itself, so there is nothing to add or remove"
	case port == NameNone:
		detail = "port driver none publishes no ports"
	default:
		detail = "RootlessKit has no port driver (implicit or none), so ports cannot be added, listed or removed through its API"
	}
	return netdriver.Problem(netdriver.IDNoPortAPI, port, detail, "start RootlessKit with the builtin port driver (with pasta: pesto), or with implicit just listen inside the namespace")
}

func protoSupported(driver string, protos []Proto, p Proto) error {
	if slices.Contains(protos, p) {
		return nil
	}
	ss := make([]string, len(protos))
	for i, x := range protos {
		ss[i] = string(x)
	}
	fix := "use one of " + strings.Join(ss, ", ")
	if p.Family() == 6 {
		fix += "; for IPv6 ports use the builtin port driver, or pesto with IPv6 on the pasta network"
	}
	return netdriver.Problem(netdriver.IDUnsupported, driver, fmt.Sprintf("port driver %s does not support protocol %s", driver, p), fix)
}

// Add publishes spec and returns its status. The protocol stays as given
// (dockerd narrows "tcp" to tcp4 or tcp6 by the host address; do that
// yourself if you need it). With a port driver that forwards to the
// namespace's address (DisallowLoopbackChildIP), a loopback ChildIP is
// refused; leave ChildIP zero.
func (m *Manager) Add(ctx context.Context, spec Spec) (Status, error) {
	if err := spec.Validate(); err != nil {
		return Status{}, err
	}
	pd, netName, err := m.portInfo(ctx)
	if err != nil {
		return Status{}, err
	}
	if pd == nil {
		return Status{}, noAPI("", netName)
	}
	protos := make([]Proto, len(pd.Protos))
	for i, p := range pd.Protos {
		protos[i] = Proto(p)
	}
	if err := protoSupported(pd.Driver, protos, spec.proto()); err != nil {
		return Status{}, err
	}
	if pd.DisallowLoopbackChildIP && spec.ChildIP.IsValid() && spec.ChildIP.IsLoopback() {
		return Status{}, netdriver.Problem(netdriver.IDUnsupported, pd.Driver, fmt.Sprintf("port driver %s forwards to the namespace's address, not to loopback %s", pd.Driver, spec.ChildIP), "leave ChildIP zero, or use the builtin port driver")
	}
	privErr := CheckPrivileged(ctx, m.host, spec.Parent.Port(), m.binder)
	if privErr != nil && m.binder != "" {
		return Status{}, privErr
	}
	st, err := m.client.PortManager().AddPort(ctx, spec.RootlessKit())
	if err != nil {
		if privErr != nil {
			// The binder was unknown; explain RootlessKit's refusal.
			if p, ok := privErr.(*diag.Finding); ok {
				q := *p
				q.Detail = pd.Driver + ": " + q.Detail
				q.Err = err
				return Status{}, &q
			}
		}
		return Status{}, m.apiError(pd.Driver, "add "+spec.String(), err)
	}
	out, err := FromRootlessKit(st.Spec)
	if err != nil {
		return Status{}, err
	}
	return Status{ID: st.ID, Spec: out}, nil
}

// List returns the published ports, ordered by ID.
func (m *Manager) List(ctx context.Context) ([]Status, error) {
	pd, netName, err := m.portInfo(ctx)
	if err != nil {
		return nil, err
	}
	if pd == nil {
		return nil, noAPI("", netName)
	}
	sts, err := m.client.PortManager().ListPorts(ctx)
	if err != nil {
		return nil, m.apiError(pd.Driver, "list", err)
	}
	out := make([]Status, 0, len(sts))
	for _, st := range sts {
		s, err := FromRootlessKit(st.Spec)
		if err != nil {
			return nil, fmt.Errorf("portdriver: list: port %d: %w", st.ID, err)
		}
		out = append(out, Status{ID: st.ID, Spec: s})
	}
	slices.SortFunc(out, func(a, b Status) int { return a.ID - b.ID })
	return out, nil
}

// Remove unpublishes the port with the given ID.
func (m *Manager) Remove(ctx context.Context, id int) error {
	pd, netName, err := m.portInfo(ctx)
	if err != nil {
		return err
	}
	if pd == nil {
		return noAPI("", netName)
	}
	if err := m.client.PortManager().RemovePort(ctx, id); err != nil {
		return m.apiError(pd.Driver, fmt.Sprintf("remove %d", id), err)
	}
	return nil
}

// apiError wraps an error of the REST API with what was being done, the
// socket, and a remedy.
func (m *Manager) apiError(driver, op string, err error) error {
	fix := "see RootlessKit's message above"
	msg := err.Error()
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("portdriver: %s: %w", op, err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		fix = "check that RootlessKit is running and that " + m.socket + " is its api.sock (StateDir/api.sock)"
	case strings.Contains(msg, "conflict with ID"):
		fix = "remove the existing port first, or choose another host port"
	case strings.Contains(msg, "address already in use"):
		fix = "choose another host port, or stop the program that listens on it"
	case strings.Contains(msg, "no PortDriver is available"):
		return noAPI(driver, "")
	case strings.Contains(msg, "privileged port") || strings.Contains(msg, "permission denied"):
		fix = "lower net.ipv4.ip_unprivileged_port_start, or set cap_net_bind_service=ep on the process that binds (see CheckPrivileged), or choose a port >= 1024"
	}
	return withErr(netdriver.Problem(netdriver.IDRootlessKitAPI, driver, fmt.Sprintf("%s via %s", op, m.socket), fix), err)
}
