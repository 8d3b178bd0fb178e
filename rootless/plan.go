package rootless

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// Plan is what Launch will do on this host with these options, decided before anything
// starts: the engine, the RootlessKit, the drivers, every path, dockerd's command line and
// RootlessKit's flags, each decision with its reasons, and the warnings found on the way. It is
// a value to print (String), log, marshal (JSON) and compare; [Resolve] returns it and
// [Plan.Launch] starts it. A Plan is not changed by Launch and may be launched again after its
// daemon has stopped.
type Plan struct {
	// Engine is EngineEmbedded or EngineExternal, never EngineAuto.
	Engine Engine `json:"engine"`
	// RootlessKit is the RootlessKit that creates the namespaces.
	RootlessKit RootlessKit `json:"rootlesskit"`
	// Fallback is the installed rootlesskit that EngineAuto falls back to if the embedded engine
	// is denied a user namespace (AppArmor on Ubuntu >= 24.04); nil if there is none.
	Fallback *RootlessKit `json:"fallback,omitempty"`
	// Dockerd is the daemon.
	Dockerd Dockerd `json:"dockerd"`
	// Network and Port are the drivers, as typed values with every setting decided: the
	// program's absolute path, the MTU, slirp4netns's sandbox and seccomp.
	Network netdriver.Driver  `json:"-"`
	Port    portdriver.Driver `json:"-"`
	// MTU is the MTU of the namespace's interface (0 for a network without one).
	MTU int `json:"mtu"`
	// DetachNetNS: dockerd runs in the host's network namespace, its containers in
	// RootlessKit's (--detach-netns).
	DetachNetNS bool `json:"detach_netns"`
	// PIDNamespace: the daemon's tree runs in a PID namespace of its own (RootlessKit's
	// --pidns), so that it all dies with RootlessKit's child. Not with the systemd cgroup driver:
	// runc asks the user's systemd for each container's scope by the PIDs runc sees, which mean
	// other processes to systemd outside that namespace.
	PIDNamespace bool `json:"pid_namespace"`
	// HostGateway is where containers reach the host's loopback (WithHostLoopback), passed to
	// dockerd as --host-gateway-ip; the zero Addr when host loopback is off.
	HostGateway netip.Addr `json:"host_gateway,omitzero"`
	// Publish are the ports RootlessKit publishes from the start (WithPublish, WithTCP).
	Publish []portdriver.Spec `json:"publish,omitempty"`
	// Paths are where the daemon's files live.
	Paths Paths `json:"paths"`
	// DockerdArgs is dockerd's command line, its path first.
	DockerdArgs []string `json:"dockerd_args"`
	// RootlessKitFlags are the flags the installed rootlesskit runs with (external engine), or
	// the flags of an installed rootlesskit of the same version that would do what the embedded
	// engine's options do.
	RootlessKitFlags []string `json:"rootlesskit_flags"`
	// Reasons say why each decision was made.
	Reasons Reasons `json:"reasons"`
	// Findings are the problems found on the way that do not stop the daemon (warnings), and
	// facts worth knowing (info). A plan is never returned with an error-level finding.
	Findings []*diag.Finding `json:"findings,omitempty"`

	c    *config     // the options, for Launch and for the fallback's Resolve
	h    *host       // the host they were resolved on
	spec engine.Spec // what RootlessKit runs
	// helperEnv is the environment of the engine's helper or rootlesskit process and of the
	// network programs it starts.
	helperEnv []string
	// binder is the program that binds published ports on the host (privileged ports need
	// CAP_NET_BIND_SERVICE on it).
	binder string
	// fellBack marks the plan of EngineAuto's fallback to the installed rootlesskit.
	fellBack bool
	// doc is what the host checks learnt for Check's report.
	doc *doctor
}

// RootlessKit identifies the RootlessKit in use.
type RootlessKit struct {
	// Version is the RootlessKit release: netdriver.LinkedRootlessKit for the embedded engine.
	Version netdriver.Version `json:"version"`
	// Path is the installed rootlesskit binary; "" for the embedded engine.
	Path string `json:"path,omitempty"`
}

func (r RootlessKit) String() string {
	if r.Path == "" {
		return "RootlessKit " + r.Version.String() + " (embedded)"
	}
	return "rootlesskit " + r.Version.String() + " (" + r.Path + ")"
}

// Dockerd is what Resolve learnt about the dockerd binary.
type Dockerd struct {
	Path    string `json:"path"`
	Version string `json:"version"` // as dockerd --version prints it, e.g. "20.10.24+dfsg1"
	// DetachNetNS: this dockerd can run outside RootlessKit's network namespace (Docker 29.5,
	// moby#47103).
	DetachNetNS bool `json:"detach_netns"`
	// PortsViaAPI: this dockerd publishes `docker run -p` ports through RootlessKit's API
	// itself (Docker 28); older ones run rootlesskit-docker-proxy.
	PortsViaAPI bool `json:"ports_via_api"`
	// Nftables: this dockerd has the nftables firewall backend (Docker 29).
	Nftables bool `json:"nftables,omitempty"`
}

// Paths are where a daemon's files live. Every one comes from an option or its default.
type Paths struct {
	StateDir            string `json:"state_dir"`
	RootlessKitStateDir string `json:"rootlesskit_state_dir"`
	Socket              string `json:"socket"`
	ExecRoot            string `json:"exec_root"`
	PIDFile             string `json:"pid_file"`
	DataRoot            string `json:"data_root"`
	DaemonConfig        string `json:"daemon_config,omitempty"` // "" for dockerd's own default
}

// Reasons say why a plan's decisions were made, one sentence each, in the order they were
// considered.
type Reasons struct {
	Engine       []string `json:"engine"`
	Network      []string `json:"network"`
	Port         []string `json:"port"`
	MTU          []string `json:"mtu,omitempty"`
	DetachNetNS  []string `json:"detach_netns,omitempty"`
	PIDNamespace []string `json:"pid_namespace,omitempty"`
}

func (r Reasons) clone() Reasons {
	return Reasons{Engine: slices.Clone(r.Engine), Network: slices.Clone(r.Network), Port: slices.Clone(r.Port),
		MTU: slices.Clone(r.MTU), DetachNetNS: slices.Clone(r.DetachNetNS), PIDNamespace: slices.Clone(r.PIDNamespace)}
}

// Host is the DOCKER_HOST value of the daemon this plan starts.
func (p *Plan) Host() string { return "unix://" + p.Paths.Socket }

// Env is what a client needs in its environment to use the daemon this plan starts; see
// [Daemon.Env].
func (p *Plan) Env() []string { return clientEnv(p.Paths.Socket) }

// clone returns a copy of p that shares nothing mutable with it.
func (p *Plan) clone() *Plan {
	q := *p
	q.Publish = slices.Clone(p.Publish)
	q.DockerdArgs = slices.Clone(p.DockerdArgs)
	q.RootlessKitFlags = slices.Clone(p.RootlessKitFlags)
	q.Reasons = p.Reasons.clone()
	q.Findings = slices.Clone(p.Findings)
	if p.Fallback != nil {
		fb := *p.Fallback
		q.Fallback = &fb
	}
	return &q
}

// driverJSON is a driver in its tagged form, {"driver":"pasta","config":{...}}, or just its
// name for drivers of other packages.
func driverJSON(name string, enc func() ([]byte, error)) json.RawMessage {
	if b, err := enc(); err == nil {
		return b
	}
	b, _ := json.Marshal(struct {
		Driver string `json:"driver"`
	}{name})
	return b
}

func (p *Plan) netJSON() json.RawMessage {
	if p.Network == nil {
		return nil
	}
	return driverJSON(p.Network.Name(), func() ([]byte, error) { return netdriver.Encode(p.Network) })
}

func (p *Plan) portJSON() json.RawMessage {
	if p.Port == nil {
		return nil
	}
	return driverJSON(p.Port.Name(), func() ([]byte, error) { return portdriver.Encode(p.Port) })
}

// MarshalJSON writes the plan with its drivers in their tagged form,
// {"driver":"slirp4netns","config":{"mtu":65520}}.
func (p *Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	return json.Marshal(struct {
		*plain
		Network json.RawMessage `json:"network"`
		Port    json.RawMessage `json:"port"`
	}{(*plain)(p), p.netJSON(), p.portJSON()})
}

// String prints the plan for people, one decision per line with its reasons below it.
func (p *Plan) String() string {
	var b strings.Builder
	line := func(label, value string, reasons []string) {
		fmt.Fprintf(&b, "%-13s %s\n", label+":", value)
		for _, r := range reasons {
			fmt.Fprintf(&b, "%-13s   - %s\n", "", r)
		}
	}
	eng := p.Engine.String() + ", " + p.RootlessKit.String()
	if p.Fallback != nil {
		eng += "; falls back to " + p.Fallback.String() + " if denied a user namespace"
	}
	line("engine", eng, p.Reasons.Engine)
	line("dockerd", p.Dockerd.Path+" "+p.Dockerd.Version, nil)
	line("network", string(p.netJSON()), p.Reasons.Network)
	line("port driver", string(p.portJSON()), p.Reasons.Port)
	if p.MTU != 0 {
		line("mtu", fmt.Sprint(p.MTU), p.Reasons.MTU)
	}
	line("detach-netns", fmt.Sprint(p.DetachNetNS), p.Reasons.DetachNetNS)
	line("pidns", fmt.Sprint(p.PIDNamespace), p.Reasons.PIDNamespace)
	if p.HostGateway.IsValid() {
		line("host gateway", p.HostGateway.String(), nil)
	}
	for _, s := range p.Publish {
		line("publish", s.String(), nil)
	}
	line("state dir", p.Paths.StateDir, nil)
	line("rk state dir", p.Paths.RootlessKitStateDir, nil)
	line("socket", p.Paths.Socket, nil)
	line("exec root", p.Paths.ExecRoot, nil)
	line("pid file", p.Paths.PIDFile, nil)
	line("data root", p.Paths.DataRoot, nil)
	if p.Paths.DaemonConfig != "" {
		line("daemon.json", p.Paths.DaemonConfig, nil)
	}
	line("dockerd args", strings.Join(p.DockerdArgs, " "), nil)
	if len(p.RootlessKitFlags) == 0 {
		line("rk flags", "(none: no rootlesskit command runs these drivers)", nil)
	} else {
		line("rk flags", strings.Join(p.RootlessKitFlags, " "), nil)
	}
	for _, f := range p.Findings {
		line(f.Severity.String(), string(f.ID)+": "+f.Detail, nil)
	}
	return b.String()
}

// clientEnv is what a client needs to use the daemon on socket: DOCKER_HOST, and
// TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE, the socket Testcontainers' Ryuk container must mount
// (it assumes /var/run/docker.sock otherwise); in a Docker container (/.dockerenv) also
// TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 unless this process sets it, since testcontainers-go
// would look for published ports at a gateway inside RootlessKit's namespace.
func clientEnv(socket string) []string {
	env := []string{"DOCKER_HOST=unix://" + socket, "TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE=" + socket}
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !set {
		if _, err := os.Stat("/.dockerenv"); err == nil {
			env = append(env, "TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1")
		}
	}
	return env
}
