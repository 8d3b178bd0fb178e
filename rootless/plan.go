package rootless

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// plan is everything Launch resolved from the options and the host.
type plan struct {
	c   *config
	log *slog.Logger

	uid, gid int
	user     string
	home     string
	layout   layout
	host     *netdriver.Host
	pathEnv  string // PATH for RootlessKit, the network drivers and dockerd

	dockerd  dockerdInfo
	engine   Engine // EngineEmbedded or EngineExternal
	rk       rkBinary
	fallback *rkBinary // the external engine EngineAuto may fall back to
	fellBack bool

	net         netdriver.Driver
	port        portdriver.Driver
	reasons     []string
	detach      bool
	hostGateway netip.Addr
	extraArgs   []string // dockerd arguments the driver choice needs
	publish     []string // WithPublish specs in RootlessKit's --publish syntax
	selinux     bool
	pidns       bool // a PID namespace for the daemon's tree; not with the systemd cgroup driver

	warnings    []*PrereqError
	heldLocks   []*os.File
	stopTimeout time.Duration
}

// rkBinary is an installed rootlesskit.
type rkBinary struct {
	path    string
	version netdriver.Version
}

// rkVersion is the RootlessKit in use: the linked one or the installed binary's.
func (p *plan) rkVersion() netdriver.Version {
	if p.engine == EngineExternal {
		return p.rk.version
	}
	return netdriver.Embedded
}

func (p *plan) netName() string  { return p.net.Name() }
func (p *plan) portName() string { return p.port.Name() }

// resolve inspects the host for c. The error joins every blocking *PrereqError (and reports
// ErrNoInit); warnings are in plan.warnings. The plan is usable only when the error is nil.
func resolve(ctx context.Context, c *config) (*plan, error) {
	p := &plan{c: c, log: c.logger, uid: os.Getuid(), gid: os.Getgid(), stopTimeout: c.stopTimeout}
	var blocking []error
	add := func(err error) {
		for _, pe := range prereqs(err) {
			if pe.Warning {
				p.warnings = append(p.warnings, pe)
			} else {
				blocking = append(blocking, pe)
			}
		}
		if err != nil && len(prereqs(err)) == 0 {
			blocking = append(blocking, err)
		}
	}
	if p.uid == 0 {
		return nil, &PrereqError{Check: "root", Detail: "running as root: rootless mode is for unprivileged users, and RootlessKit does not support root",
			Remedy: "run as the user who should own the daemon; for a system-wide daemon use the normal dockerd"}
	}
	p.user, p.home = currentUser()
	var err error
	if p.layout, err = resolveLayout(c, envLookup(c.environ), p.uid, p.home); err != nil {
		return nil, err
	}
	add(checkStateDirSafety(p.layout.StateDir, p.uid))
	add(checkDataRoot(p.layout.DataRoot))

	p.pathEnv = daemonPath(c.bins.Path, envLookup(c.environ)("PATH"))
	p.host = netdriver.LocalHost()
	p.host.PATH = p.pathEnv

	timed := func(step string, f func() error) error {
		t0 := time.Now()
		err := f()
		p.log.LogAttrs(ctx, slog.LevelDebug, "resolved", slog.String("step", step), slog.Duration("took", time.Since(t0)))
		return err
	}
	// The probes run programs and read files; the three groups are independent.
	var wg sync.WaitGroup
	var dockerdErr, hostErr error
	wg.Go(func() { dockerdErr = timed("dockerd", func() error { return p.resolveDockerd(ctx) }) })
	wg.Go(func() { hostErr = timed("host", func() error { return checkHost(ctx, p) }) })
	engineErr := timed("engine", func() error { return p.resolveEngine(ctx) })
	wg.Wait()
	add(dockerdErr)
	add(hostErr)
	if errors.Is(engineErr, ErrNoInit) {
		return nil, engineErr
	}
	add(engineErr)
	if len(blocking) == 0 {
		add(timed("drivers", func() error { return p.resolveDrivers(ctx) }))
	}
	if p.net != nil && p.port != nil { // only checks of a choice that was made
		add(checkChoices(p))
	}
	p.selinux = seLinuxEnabled()
	if p.pidns = !systemdCgroupDriver(p.c.dockerdArgs, p.layout.DaemonConfig); !p.pidns {
		p.reasons = append(p.reasons, "no PID namespace: dockerd uses the systemd cgroup driver, whose scopes systemd must find by the PIDs runc sees")
	}
	if err := errors.Join(blocking...); err != nil {
		return p, err
	}
	return p, nil
}

// daemonPath is the PATH of RootlessKit and dockerd: the stack's directories, the caller's
// PATH, then the system directories it lacks. Debian gives users no /usr/sbin, where iptables
// lives; dockerd-rootless-setuptool.sh's unit adds /sbin:/usr/sbin for the same reason.
func daemonPath(stack []string, callers string) string {
	dirs := slices.Clone(stack)
	for _, d := range filepath.SplitList(callers) {
		if filepath.IsAbs(d) && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return strings.Join(dirs, ":")
}

// prereqs flattens the *PrereqError values in err's tree.
func prereqs(err error) []*PrereqError {
	var out []*PrereqError
	walk(err, func(e error) bool {
		if pe, ok := e.(*PrereqError); ok {
			out = append(out, pe)
			return false
		}
		return true
	})
	return out
}

func envLookup(env []string) func(string) string {
	return func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
}

func (p *plan) resolveDockerd(ctx context.Context) error {
	path := p.c.bins.Dockerd
	if path == "" {
		var err error
		if path, err = lookPath("dockerd", nil, p.pathEnv); err != nil {
			return &PrereqError{Check: "binary:dockerd", Detail: "dockerd not found in " + p.pathEnv,
				Remedy: "install Docker Engine (apt-get install docker.io, or docker-ce), or set Binaries.Dockerd / Binaries.Path", Err: err}
		}
	}
	info, err := probeDockerd(ctx, path)
	if err != nil {
		return &PrereqError{Check: "binary:dockerd", Detail: err.Error(), Remedy: "point Binaries.Dockerd at a working dockerd", Err: err}
	}
	p.dockerd = info
	var errs []error
	for _, name := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := lookPath(name, nil, p.pathEnv); err != nil {
			errs = append(errs, &PrereqError{Check: "binary:" + name, Detail: name + " not found in " + p.pathEnv,
				Remedy: "install it with the engine (Debian/Ubuntu: apt-get install containerd runc), or add its directory to Binaries.Path", Err: err})
		}
	}
	return errors.Join(errs...)
}

// resolveEngine picks the embedded or the external engine.
func (p *plan) resolveEngine(ctx context.Context) error {
	if rk, err := p.findRootlessKit(ctx); err == nil {
		p.fallback = &rk
	} else if p.c.engine == EngineExternal {
		return err
	}
	switch p.c.engine {
	case EngineExternal:
		return p.useExternal(*p.fallback)
	case EngineEmbedded:
		if !engine.Initialized() {
			return fmt.Errorf("%w: the embedded engine re-runs this executable and needs rootless.Init as the first statement of main", ErrNoInit)
		}
		p.engine = EngineEmbedded
		return nil
	}
	// EngineAuto.
	if !engine.Initialized() {
		if p.fallback == nil {
			return fmt.Errorf("%w: without it the embedded engine cannot run, and no rootlesskit binary was found for the external one", ErrNoInit)
		}
		p.reasons = append(p.reasons, "rootless.Init was not called, so the installed rootlesskit runs the namespaces")
		return p.useExternal(*p.fallback)
	}
	if restrictedUserNS(p.host) && p.fallback != nil {
		p.reasons = append(p.reasons, "AppArmor restricts unprivileged user namespaces to profiled binaries; using "+p.fallback.path)
		return p.useExternal(*p.fallback)
	}
	p.engine = EngineEmbedded
	return nil
}

func (p *plan) findRootlessKit(ctx context.Context) (rkBinary, error) {
	path := p.c.bins.RootlessKit
	if path == "" {
		var err error
		if path, err = lookPath("rootlesskit", nil, p.pathEnv); err != nil {
			return rkBinary{}, &PrereqError{Check: "binary:rootlesskit", Detail: "rootlesskit not found in " + p.pathEnv,
				Remedy: "install it (Debian/Ubuntu: apt-get install rootlesskit), or set Binaries.RootlessKit, or use the embedded engine", Err: err}
		}
	}
	v, err := netdriver.RootlessKitVersion(ctx, p.host, path)
	if err != nil {
		return rkBinary{}, &PrereqError{Check: "binary:rootlesskit", Detail: err.Error(), Remedy: "point Binaries.RootlessKit at rootlesskit 1.1 or newer", Err: err}
	}
	return rkBinary{path: path, version: v}, nil
}

// useExternal switches the plan to the installed rootlesskit rk.
func (p *plan) useExternal(rk rkBinary) error {
	if !rk.version.AtLeast(netdriver.Version{Major: 1, Minor: 1}) {
		return &PrereqError{Check: "binary:rootlesskit", Detail: fmt.Sprintf("%s is version %s", rk.path, rk.version),
			Remedy: "install rootlesskit 1.1 or newer, or use the embedded engine"}
	}
	p.engine, p.rk = EngineExternal, rk
	if p.net == nil {
		return nil
	}
	// Drivers were chosen for another RootlessKit: check they exist in this one.
	if _, err := p.net.Flags(rk.version, p.port.Name()); err != nil {
		return err
	}
	_, err := p.port.Flags(rk.version, p.net)
	return err
}

// resolveDrivers picks the network and port drivers and whether to detach the netns. Explicit
// drivers go through netdriver.Select too, which applies the switches (source IP, host
// loopback, IPv6, MTU clamp) and checks them on this host.
func (p *plan) resolveDrivers(ctx context.Context) error {
	prefs := p.c.prefs
	prefs.RootlessKit = p.rkVersion()
	prefs.Network = p.c.net
	if p.c.port != nil {
		prefs.PortDriver = p.c.port.Name()
	}
	sel, err := netdriver.Select(ctx, p.host, prefs)
	if err != nil {
		return liftDriverErrors(err)
	}
	if tuned, changed, err := p.c.tune(sel.Network); err != nil {
		return err
	} else if changed {
		prefs.Network = tuned // check the tuned driver again, switches included
		if sel, err = netdriver.Select(ctx, p.host, prefs); err != nil {
			return liftDriverErrors(err)
		}
	}
	p.net, p.reasons = sel.Network, append(p.reasons, sel.Reasons...)
	for _, w := range sel.Warnings {
		p.warnings = append(p.warnings, &PrereqError{Check: "net-driver", Detail: w, Warning: true})
	}
	p.port = p.c.port
	if p.port == nil {
		if p.port, err = portdriver.Named(sel.PortDriver); err != nil {
			return liftDriverErrors(err)
		}
	}
	if sel.DisableUserlandProxy {
		p.extraArgs = append(p.extraArgs, "--userland-proxy=false")
	}
	if p.c.prefs.ClampMTU && sel.MTU > 0 && sel.MTU < 1500 {
		p.extraArgs = append(p.extraArgs, "--mtu="+strconv.Itoa(sel.MTU)) // the bridge must not exceed the path
	}
	if err := portdriver.Validate(p.net, p.port); err != nil {
		return liftDriverErrors(err)
	}
	props := p.net.Properties()
	if !props.Namespace {
		return &PrereqError{Check: "net-driver", Detail: "Unsupported RootlessKit network driver: " + p.net.Name() + " (dockerd needs its own network namespace)",
			Remedy: "choose slirp4netns, pasta, gvisor-tap-vsock, vpnkit or lxc-user-nic"}
	}
	p.hostGateway = sel.HostGateway
	if err := p.resolveDetach(); err != nil {
		return err
	}
	errs := []error{p.net.Check(ctx, p.host), p.port.Check(ctx, p.host, p.net)}
	if p.engine == EngineExternal {
		_, nerr := p.net.Flags(p.rk.version, p.port.Name())
		_, perr := p.port.Flags(p.rk.version, p.net)
		errs = append(errs, nerr, perr)
	}
	flags, err := portdriver.PublishFlags(p.port, p.c.publish...) // a port API, and the protocols it takes
	for _, f := range flags {
		p.publish = append(p.publish, strings.TrimPrefix(f, "--publish="))
	}
	errs = append(errs, err)
	return liftDriverErrors(errors.Join(errs...))
}

// tune applies the driver settings of WithScriptEnv (MTU, CIDR, interface name, slirp4netns
// sandbox and seccomp) to d. It reports whether anything changed.
func (c *config) tune(d netdriver.Driver) (netdriver.Driver, bool, error) {
	if c.mtu == 0 && c.cidr == "" && c.ifname == "" && c.slirpSandbox == "" && c.slirpSeccomp == "" {
		return d, false, nil
	}
	var cidr netip.Prefix
	if c.cidr != "" {
		var err error
		if cidr, err = netip.ParsePrefix(c.cidr); err != nil {
			return d, false, optionError("WithScriptEnv", "--cidr %q: %v", c.cidr, err)
		}
	}
	set := func(mtu *int, pfx *netip.Prefix, ifname *string) {
		if c.mtu != 0 {
			*mtu = c.mtu
		}
		if pfx != nil && cidr.IsValid() {
			*pfx = cidr
		}
		if c.ifname != "" {
			*ifname = c.ifname
		}
	}
	switch v := d.(type) {
	case netdriver.Slirp4netns:
		set(&v.MTU, &v.CIDR, &v.IfName)
		if c.slirpSandbox != "" {
			v.Sandbox = c.slirpSandbox
		}
		if c.slirpSeccomp != "" {
			v.Seccomp = c.slirpSeccomp
		}
		return v, true, nil
	case netdriver.Pasta:
		set(&v.MTU, &v.CIDR, &v.IfName)
		return v, true, nil
	case netdriver.GVisorTapVsock:
		set(&v.MTU, &v.CIDR, &v.IfName)
		return v, true, nil
	case netdriver.VPNKit, netdriver.LXCUserNIC:
		if cidr.IsValid() {
			return d, false, optionError("WithScriptEnv", "--cidr is not supported by the %s network driver", d.Name())
		}
		if v, ok := v.(netdriver.VPNKit); ok {
			set(&v.MTU, nil, &v.IfName)
			return v, true, nil
		}
		l := v.(netdriver.LXCUserNIC)
		set(&l.MTU, nil, &l.IfName)
		return l, true, nil
	case netdriver.None:
		// RootlessKit ignores MTU, sandbox and seccomp for --net=none; it refuses only these.
		if cidr.IsValid() || c.ifname != "" {
			return d, false, optionError("WithScriptEnv", "--cidr and --ifname are not supported by the none network driver")
		}
		return d, false, nil
	}
	return d, false, optionError("WithScriptEnv", "cannot apply MTU/CIDR/ifname to network driver %s", d.Name())
}

// resolveDetach decides --detach-netns: asked for, or automatic when both sides support it.
func (p *plan) resolveDetach() error {
	rkOK := p.rkVersion().AtLeast(netdriver.Version{Major: 2})
	switch {
	case p.c.detach == nil:
		p.detach = rkOK && p.dockerd.DetachNetNS
		if p.detach {
			p.reasons = append(p.reasons, "dockerd and RootlessKit support --detach-netns: dockerd runs in the host network namespace")
		}
	case *p.c.detach && !rkOK:
		return &PrereqError{Check: "detach-netns", Detail: "RootlessKit " + p.rkVersion().String() + " has no --detach-netns (needs 2.0)",
			Remedy: "use the embedded engine or rootlesskit >= 2.0, or WithDetachNetNS(false)"}
	case *p.c.detach && !p.dockerd.DetachNetNS:
		return &PrereqError{Check: "detach-netns", Detail: "dockerd " + p.dockerd.Version + " does not support a detached network namespace (needs Docker >= 29.5)",
			Remedy: "upgrade dockerd, or WithDetachNetNS(false)"}
	default:
		p.detach = *p.c.detach
	}
	return nil
}

// liftDriverErrors turns the leaf packages' remedy-carrying errors into *PrereqError, keeping
// their warning flag, so that Check and Launch report one type.
func liftDriverErrors(err error) error {
	var out []error
	walk(err, func(e error) bool {
		switch e := e.(type) {
		case *PrereqError:
			out = append(out, e)
		case *netdriver.Error:
			out = append(out, &PrereqError{Check: e.Driver + ":" + string(e.ID), Detail: e.Detail, Remedy: e.Fix, Warning: e.Warning, Err: e})
		case interface{ Unwrap() []error }:
			return true
		case interface {
			error
			Remedy() string
		}:
			out = append(out, &PrereqError{Check: "driver", Detail: e.Error(), Remedy: e.Remedy(), Err: e})
		default:
			out = append(out, e)
		}
		return false
	})
	return errors.Join(out...)
}

// dockerdArgs is dockerd's command line.
func (p *plan) dockerdArgs() []string {
	l := p.layout
	args := []string{p.dockerd.Path,
		"--host=unix://" + l.Socket,
		"--data-root=" + l.DataRoot,
		"--exec-root=" + l.ExecRoot,
		"--pidfile=" + l.PIDFile,
	}
	if l.DaemonConfig != "" {
		args = append(args, "--config-file="+l.DaemonConfig)
	}
	if p.hostGateway.IsValid() {
		args = append(args, "--host-gateway-ip="+p.hostGateway.String())
	}
	args = append(args, p.extraArgs...)
	return append(args, p.c.dockerdArgs...)
}

// targetEnv is dockerd's environment: the caller's, minus what names another daemon or session,
// plus a runtime directory. dockerd requires XDG_RUNTIME_DIR in rootless mode, and it and runc
// derive paths from it (runc's state, the containerd socket it probes first); pointing it at
// the exec root keeps all of that inside one directory that is removed when the daemon stops.
func (p *plan) targetEnv() []string {
	var env []string
	for _, kv := range p.c.environ {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PATH" || k == "HOME" || k == "XDG_RUNTIME_DIR" || k == "NOTIFY_SOCKET" || k == "DOCKERD",
			strings.HasPrefix(k, "DOCKER_"), strings.HasPrefix(k, "LISTEN_"), strings.HasPrefix(k, "_ROOTLESSD_"),
			strings.HasPrefix(k, "ROOTLESSKIT_"), strings.HasPrefix(k, "_DOCKERD_ROOTLESS_"):
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+p.pathEnv, "HOME="+p.home, "XDG_RUNTIME_DIR="+p.layout.ExecRoot)
	if p.selinux {
		env = append(env, "_DOCKERD_ROOTLESS_SELINUX=1") // dockerd then avoids overlay2 (moby#42333)
	}
	return env
}

// engineConfig is the engine's configuration and how to start it.
func (p *plan) engineConfig(sink *logSink) (*engine.Config, engine.StartOptions, error) {
	netEnc, err := netdriver.Encode(p.net)
	if err != nil {
		return nil, engine.StartOptions{}, err
	}
	portEnc, err := portdriver.Encode(p.port)
	if err != nil {
		return nil, engine.StartOptions{}, err
	}
	cfg := &engine.Config{
		StateDir: p.layout.RKDir, Net: netEnc, Port: portEnc, NetName: p.net.Name(),
		DetachNetNS: p.detach, PIDNS: p.pidns,
		CopyUp: []string{"/etc", "/run"}, Propagation: "rslave", SubidSource: p.c.subidSource,
		Debug:  p.log.Enabled(context.Background(), slog.LevelDebug),
		Target: engine.Target{Argv: p.dockerdArgs(), Env: p.targetEnv(), Prepare: true, SELinux: p.selinux},
	}
	cfg.Publish = p.publish
	so := engine.StartOptions{Env: append(filterEnv(p.c.environ), "PATH="+p.pathEnv), Output: sink}
	if p.engine == EngineExternal {
		so.RootlessKit = p.rk.path
		flags, err := p.externalFlags(cfg)
		if err != nil {
			return nil, so, err
		}
		so.Flags = flags
	}
	p.log.Debug("engine", slog.String("engine", p.engine.String()), slog.Any("dockerd", cfg.Target.Argv), slog.Any("rootlesskit_flags", so.Flags))
	return cfg, so, nil
}

// externalFlags are the rootlesskit flags for cfg, for the installed version.
func (p *plan) externalFlags(cfg *engine.Config) ([]string, error) {
	v := p.rk.version
	flags := []string{"--state-dir=" + cfg.StateDir, "--propagation=" + cfg.Propagation}
	if cfg.PIDNS {
		flags = append(flags, "--pidns", "--reaper=true")
	}
	for _, d := range cfg.CopyUp {
		flags = append(flags, "--copy-up="+d)
	}
	if cfg.DetachNetNS {
		flags = append(flags, "--detach-netns")
	}
	if cfg.SubidSource != "" && cfg.SubidSource != "auto" {
		flags = append(flags, "--subid-source="+cfg.SubidSource)
	}
	nf, err := p.net.Flags(v, p.port.Name())
	if err != nil {
		return nil, err
	}
	pf, err := p.port.Flags(v, p.net)
	if err != nil {
		return nil, err
	}
	flags = append(append(flags, nf...), pf...)
	for _, s := range cfg.Publish {
		flags = append(flags, "--publish="+s)
	}
	if cfg.Debug {
		flags = append(flags, "--debug")
	}
	return flags, nil
}

// filterEnv drops what must not reach RootlessKit from the caller's environment.
func filterEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || strings.HasPrefix(k, "ROOTLESSKIT_") || strings.HasPrefix(k, "_ROOTLESSD_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// info is the Info of a daemon started from this plan.
func (p *plan) info() Info {
	l := p.layout
	i := Info{
		Engine: p.engine, FellBack: p.fellBack, RootlessKit: p.rkVersion().String(),
		Dockerd: p.dockerd.Path, DockerdVersion: p.dockerd.Version,
		NetDriver: p.net.Name(), PortDriver: p.port.Name(), MTU: p.net.Properties().MTU, DetachNetNS: p.detach,
		Reasons:  append([]string(nil), p.reasons...),
		StateDir: l.StateDir, RootlessKitStateDir: l.RKDir, Socket: l.Socket, ExecRoot: l.ExecRoot,
		PIDFile: l.PIDFile, DataRoot: l.DataRoot, DaemonConfig: l.DaemonConfig,
	}
	if p.engine == EngineExternal {
		i.RootlessKitBin = p.rk.path
	}
	if p.hostGateway.IsValid() {
		i.HostGateway = p.hostGateway.String()
	}
	return i
}

// release undoes what prepare did, once the daemon's tree has exited: runtime files go, the
// locks are dropped. The data root stays.
func (p *plan) release() error {
	err := p.layout.removeRuntimeFiles()
	for _, f := range p.heldLocks {
		f.Close()
	}
	p.heldLocks = nil
	return err
}

// removeRuntimeFiles removes the socket, pid file and exec root a stopped daemon leaves.
func (l layout) removeRuntimeFiles() error {
	var errs []error
	for _, f := range []string{l.Socket, l.PIDFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := removeTree(l.ExecRoot); err != nil {
		errs = append(errs, fmt.Errorf("remove exec root: %w", err))
	}
	return errors.Join(errs...)
}
