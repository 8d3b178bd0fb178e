package rootless

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cmp"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// Resolve decides what Launch would do with these options on this host, without starting or
// changing anything, and returns the decision as a [Plan]. The error is the joined option
// errors (each wrapping ErrInvalidOption), or the joined error-level findings
// ([*diag.Finding]) of what the host lacks, ErrNoInit among them when Init was not called,
// or ErrNotSupported off Linux. Warnings are in Plan.Findings.
//
// ctx bounds the probes (dockerd, rootlesskit, the network programs).
func Resolve(ctx context.Context, opts ...Option) (*Plan, error) {
	if runtime.GOOS != "linux" {
		return nil, ErrNotSupported
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	p, err := resolve(ctx, c, localHost(daemonPath(c.bins.Path, envLookup(c.environ)("PATH"))))
	if err != nil {
		return nil, err
	}
	return p, nil
}

// resolve makes the plan for c on h. Every decision is made here, once. On error it returns the
// plan as far as it got (Check reports it) and the joined error-level findings; all findings
// are in the plan's Findings either way.
func resolve(ctx context.Context, c *config, h *host) (*Plan, error) {
	r := newResolver(ctx, c, h)
	r.run(ctx)
	return r.p, r.finish()
}

// resolveForLaunch is resolve for Launch, which starts the engine while the checks that only
// produce findings (those that read the namespace probes' answers) are still under way: the
// plan's decisions are all made when it returns, and the engine needs nothing else. done waits
// for those checks and then returns what resolve would have returned as its error, with the
// plan's Findings complete; Launch must call it, and fail with its error, before it hands out
// the daemon. On an error here, done has been called already and is nil.
func resolveForLaunch(ctx context.Context, c *config, h *host) (p *Plan, done func() error, err error) {
	r := newResolver(ctx, c, h)
	r.deferred = true
	r.run(ctx)
	if r.blocked() || r.launchErr != nil || r.p.spec.Target.Argv == nil {
		return r.p, nil, r.finish() // nothing to start: resolve's answer
	}
	return r.p, sync.OnceValue(r.finish), nil
}

func newResolver(ctx context.Context, c *config, h *host) *resolver {
	h = h.once()
	return &resolver{ctx: ctx, c: c, h: h, p: &Plan{c: c, h: h}}
}

// finish waits for the deferred checks, puts their findings where resolve would have added
// them, and sets the plan's Findings: the error is the joined error-level findings and other
// errors, or nil.
func (r *resolver) finish() error {
	if r.pending != nil {
		errs := r.pending()
		r.pending = nil
		r.mu.Lock()
		var fs []*diag.Finding
		for _, err := range errs {
			fs = append(fs, r.collect(err)...)
		}
		r.findings = slices.Insert(r.findings, r.pendingAt, fs...)
		r.mu.Unlock()
		// resolveLaunch ran for the engine's sake; resolve does not run it on a blocked host.
		if !r.blocked() {
			r.add(r.launchErr)
		}
	}
	p := r.p
	var blocking []error
	var kept []*diag.Finding
	for _, f := range r.findings {
		if f.Severity == diag.Error {
			blocking = append(blocking, f)
		}
		kept = append(kept, f)
	}
	p.Findings = kept
	if len(blocking) > 0 {
		return errors.Join(append(blocking, r.other...)...)
	}
	if len(r.other) > 0 {
		return errors.Join(r.other...)
	}
	p.Findings = slices.DeleteFunc(p.Findings, func(f *diag.Finding) bool { return f.Severity == diag.Error })
	return nil
}

// fallbackPlan is the plan of EngineAuto's fallback to the installed rootlesskit: the options
// resolved again with the engine forced, so that every decision suits that RootlessKit (its
// version's flags, detach-netns, the port driver that keeps the source IP).
func (p *Plan) fallbackPlan(ctx context.Context) (*Plan, error) {
	if p.Fallback == nil {
		return nil, errors.New("rootless: no rootlesskit to fall back to")
	}
	c := *p.c
	c.engine, c.fallback = EngineExternal, true
	if c.bins.RootlessKit == "" {
		c.bins.RootlessKit = p.Fallback.Path
	}
	return resolve(ctx, &c, p.h)
}

// resolver carries one resolve: the plan being built and what was found on the way.
type resolver struct {
	ctx context.Context
	c   *config
	h   *host
	p   *Plan
	doc *doctor // what the host checks learn for the report

	mu       sync.Mutex
	findings []*diag.Finding
	other    []error // errors that are not findings: a done ctx

	// deferred (resolveForLaunch) leaves the checks that only read the namespace probes'
	// answers running: pending waits for them and returns their errors, whose findings belong
	// at pendingAt in findings. launchErr is resolveLaunch's error, which finish adds unless
	// the host is blocked.
	deferred  bool
	pending   func() []error
	pendingAt int
	launchErr error

	// firewall is firewallArgs's decision when earlyFirewall made it (firewallDecided).
	firewall        []string
	firewallDecided bool
}

// add records every finding in err's tree; other errors are kept as they are.
func (r *resolver) add(err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.findings = append(r.findings, r.collect(err)...)
}

// collect returns the findings in err's tree and keeps its other errors; r.mu is held.
func (r *resolver) collect(err error) []*diag.Finding {
	if err == nil {
		return nil
	}
	fs := diag.List(err)
	diag.Walk(err, func(e error) bool {
		switch e.(type) {
		case *diag.Finding:
			return false
		case interface{ Unwrap() []error }:
			return true
		}
		if len(fs) == 0 {
			r.other = append(r.other, e)
		}
		return false
	})
	return fs
}

func (r *resolver) blocked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.other) > 0 || slices.ContainsFunc(r.findings, func(f *diag.Finding) bool { return f.Severity == diag.Error })
}

func (r *resolver) run(ctx context.Context) {
	c, h, p := r.c, r.h, r.p
	if h.uid == 0 {
		r.add(problem(IDRoot, "running as root: rootless mode is for unprivileged users, and RootlessKit does not support root",
			"uid 0", "run as the user who should own the daemon; for a system-wide daemon use the normal dockerd"))
		return
	}
	if !h.initialized {
		r.add(because(problem(IDNoInit,
			"main did not call rootless.Init first: both engines re-run this executable inside the namespaces (the embedded engine also as RootlessKit's parent and child), and without Init main would run again there",
			h.executable, "call rootless.Init() as the first statement of main (in tests: of TestMain)"), ErrNoInit))
		return
	}
	r.doc = newDoctor(h)
	p.doc = r.doc
	layout, err := resolveLayout(c, envLookup(c.environ), h)
	p.Paths = layout
	if err != nil {
		r.add(err)
		return
	}
	// The probes start processes in new namespaces; they run while the rest is checked.
	r.doc.probes = r.startProbes(ctx)
	// The network programs' answers (slirp4netns --help, ...) come last on a cold start: select
	// for the embedded engine's RootlessKit now, so that they are in (h runs each program once)
	// when resolveDrivers selects for the RootlessKit the engine turns out to have.
	var early sync.WaitGroup
	defer early.Wait()
	if c.engine != EngineExternal {
		early.Go(func() { _, _ = selectDrivers(ctx, h.net, c.wants(), netdriver.LinkedRootlessKit) })
	}
	// The first candidate's description (slirp4netns --version) would run only after its
	// check (slirp4netns --help), one after the other on the way to the engine: ask for it
	// meanwhile. Describe runs only what Check runs, and the answers wait in h's memo.
	early.Go(func() { warmDescribe(ctx, h.net, c.wants()) })
	if err := checkRuntimeDir(r); diag.Blocking(err) != nil {
		r.add(err) // it stands for the state directory's own problem too
	} else {
		r.add(err)
		r.add(checkStateDirSafety(h, layout.StateDir))
	}
	r.add(checkDataRoot(h, layout.DataRoot))

	// The probes run programs and read files; the three groups are independent.
	var wg sync.WaitGroup
	wg.Go(func() {
		err := r.resolveDockerd(ctx)
		r.add(err)
		// The firewall probe tries the backend dockerd will use, decided here when it can be.
		r.doc.probes.startFirewall(ctx, r, r.earlyFirewall(r.p.Dockerd.Path != ""))
	})
	wg.Go(func() { r.add(checkHost(ctx, r)) })
	r.add(r.resolveEngine(ctx))
	wg.Wait()
	// What needs the probes' answers, the engine and dockerd: findings and the report's
	// storage outlook, no decision. Launch starts the engine while they are under way.
	probeChecks := func() []error {
		storage, err := outlookStorage(r)
		r.doc.outlook.Storage = storage
		return []error{checkUserns(r), checkAppArmor(r), checkIptablesProbe(r), err}
	}
	if r.deferred {
		errc := make(chan []error, 1)
		go func() { errc <- probeChecks() }()
		r.mu.Lock()
		r.pending, r.pendingAt = func() []error { return <-errc }, len(r.findings)
		r.mu.Unlock()
	} else {
		for _, err := range probeChecks() {
			r.add(err)
		}
	}
	cgroups, err := outlookCgroups(r)
	r.add(err)
	r.doc.outlook.Cgroups = cgroups
	// The drivers are chosen even when the host has problems already, so that Check names the
	// drivers' problems too (a missing /dev/net/tun next to a denied user namespace); only an
	// engine that could not be decided, or a done ctx, stops here.
	if p.Engine != EngineEmbedded && p.Engine != EngineExternal || r.interrupted() {
		r.add(checkPorts(r)) // without the port driver's binder
		return
	}
	r.add(r.resolveDrivers(ctx))
	if p.Network == nil || r.interrupted() {
		r.add(checkPorts(r))
		return
	}
	r.add(checkChoices(r))
	if r.blocked() {
		return
	}
	if r.deferred {
		r.launchErr = r.resolveLaunch()
		return
	}
	r.add(r.resolveLaunch())
}

// interrupted reports errors that are not findings (a done ctx): nothing more can be learnt.
func (r *resolver) interrupted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.other) > 0
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

func (r *resolver) resolveDockerd(ctx context.Context) error {
	h := r.h
	path := r.c.bins.Dockerd
	if path == "" {
		var err error
		if path, err = h.net.LookPath("dockerd"); err != nil {
			return because(problem(IDDockerdMissing, "dockerd not found", "PATH="+h.net.PATH,
				"install Docker Engine ("+r.doc.distro.install(pkgDockerd)+"; or docker-ce and docker-ce-rootless-extras from download.docker.com), or set Binaries.Dockerd / Binaries.Path"), err)
		}
	}
	info, err := probeDockerd(ctx, h, path)
	if err != nil {
		if ctx.Err() != nil {
			return err // it names the probe that ctx's end cut short
		}
		return because(problem(IDDockerdUnusable, "cannot tell the version of "+path+": "+err.Error(), path,
			"point Binaries.Dockerd at a working dockerd"), err)
	}
	r.p.Dockerd = info
	var errs []error
	for _, name := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := h.net.LookPath(name); err != nil {
			errs = append(errs, because(problem(IDEngineProgramMissing, name+" not found: dockerd starts it", "PATH="+h.net.PATH,
				"install it with the engine ("+r.doc.distro.install(pkgContainerd, pkgRunc)+"), or add its directory to Binaries.Path"), err))
		}
	}
	return errors.Join(errs...)
}

// resolveEngine picks the embedded or the external engine, and EngineAuto's fallback.
func (r *resolver) resolveEngine(ctx context.Context) error {
	c, p := r.c, r.p
	rk, rkErr := r.findRootlessKit(ctx)
	switch c.engine {
	case EngineExternal:
		if rkErr != nil {
			return rkErr
		}
		p.Engine, p.RootlessKit = EngineExternal, rk
		p.Reasons.Engine = append(p.Reasons.Engine, "the external engine was asked for (WithEngine)")
		if r.c.fallback {
			p.Reasons.Engine = append(p.Reasons.Engine, "the embedded engine was denied a user namespace, so the installed rootlesskit runs the namespaces")
			p.fellBack = true
		}
		return nil
	case EngineEmbedded:
		p.Reasons.Engine = append(p.Reasons.Engine, "the embedded engine was asked for (WithEngine)")
	default:
		p.Reasons.Engine = append(p.Reasons.Engine, "the embedded engine is the default: it needs no rootlesskit binary")
		if rkErr == nil {
			p.Fallback = &rk
			if restrictedUserNS(r.h) {
				p.Engine, p.RootlessKit = EngineExternal, rk
				p.Reasons.Engine = []string{"AppArmor restricts unprivileged user namespaces to profiled binaries (kernel.apparmor_restrict_unprivileged_userns=1), so the installed " + rk.Path + " runs the namespaces"}
				p.Fallback = nil
				return nil
			}
		}
	}
	p.Engine, p.RootlessKit = EngineEmbedded, RootlessKit{Version: netdriver.LinkedRootlessKit}
	return nil
}

func (r *resolver) findRootlessKit(ctx context.Context) (RootlessKit, error) {
	h := r.h
	path := r.c.bins.RootlessKit
	if path == "" {
		var err error
		if path, err = h.net.LookPath("rootlesskit"); err != nil {
			return RootlessKit{}, because(problem(IDRootlessKitMissing, "rootlesskit not found, and the external engine needs it", "PATH="+h.net.PATH,
				"install it ("+r.doc.distro.install(pkgRootlessKit)+"), set Binaries.RootlessKit, or use the embedded engine"), err)
		}
	}
	v, ok := rootlessKitBuildVersion(h, path)
	var err error
	if !ok {
		v, err = netdriver.RootlessKitVersion(ctx, h.net, path)
	}
	if err != nil {
		if ctx.Err() != nil {
			return RootlessKit{}, fmt.Errorf("%s --version: %w", path, err)
		}
		return RootlessKit{}, because(problem(IDRootlessKitUnusable, "cannot tell the version of "+path+": "+err.Error(), path,
			"point Binaries.RootlessKit at rootlesskit 1.1 or newer"), err)
	}
	if !v.AtLeast(netdriver.Version{Major: 1, Minor: 1}) {
		return RootlessKit{}, problem(IDRootlessKitTooOld, fmt.Sprintf("%s is version %s; the external engine needs 1.1 or newer", path, v), path,
			"install rootlesskit 1.1 or newer, or use the embedded engine")
	}
	return RootlessKit{Path: path, Version: v}, nil
}

// resolveDrivers picks the drivers, the MTU and whether to detach the network namespace.
func (r *resolver) resolveDrivers(ctx context.Context) error {
	c, h, p := r.c, r.h, r.p
	sel, err := selectDrivers(ctx, h.net, c.wants(), p.RootlessKit.Version)
	if err != nil {
		return err
	}
	p.Reasons.Network, p.Reasons.Port, p.Reasons.MTU = sel.netReasons, sel.portReasons, sel.mtuReasons
	r.add(diag.Join(sel.warnings...))
	if !sel.net.Properties().Namespace {
		return problem(IDNetworkWithoutNamespace,
			"Unsupported RootlessKit network driver: "+sel.net.Name()+" (dockerd needs a network namespace of its own)", fmt.Sprintf("WithNetwork(%T)", sel.net),
			"choose slirp4netns, pasta, gvisor-tap-vsock, vpnkit or lxc-user-nic")
	}
	if p.Engine == EngineEmbedded {
		if _, err := netdriver.Encode(sel.net); err != nil {
			return problem(IDDriverNotEmbeddable, fmt.Sprintf("network driver %T is not one of package netdriver's, so the embedded engine cannot run it", sel.net), fmt.Sprintf("WithNetwork(%T)", sel.net),
				"use the external engine (WithEngine(EngineExternal)), which runs it through its Flags")
		}
		if _, err := portdriver.Encode(sel.port); err != nil {
			return problem(IDDriverNotEmbeddable, fmt.Sprintf("port driver %T is not one of package portdriver's, so the embedded engine cannot run it", sel.port), fmt.Sprintf("WithPortDriver(%T)", sel.port),
				"use the external engine (WithEngine(EngineExternal)), which runs it through its Flags")
		}
	}
	if err := r.resolveDetach(sel.net); err != nil {
		return err
	}
	// Decide what the drivers leave to RootlessKit: program paths, slirp4netns's sandbox.
	if sel.net, err = netdriver.Resolve(ctx, h.net, sel.net, p.DetachNetNS); err != nil {
		return err
	}
	if pe, ok := sel.port.(portdriver.Pesto); ok {
		prog := cmp.Or(pe.Binary, "pesto")
		if pe.Binary, err = h.net.LookPath(prog); err != nil {
			return netdriver.Problem(netdriver.IDBinaryMissing, portdriver.NamePesto, err.Error(), "install passt "+netdriver.PastaPesto+" or later, which provides pesto")
		}
		sel.port = pe
	}
	p.Network, p.Port, p.MTU, p.HostGateway = sel.net, sel.port, sel.mtu, sel.gateway
	p.binder = binderOf(p, sel)
	var args []string
	if sel.proxyOff {
		args = append(args, "--userland-proxy=false")
	}
	if c.clampMTU && sel.mtu > 0 && sel.mtu < 1500 {
		args = append(args, "--mtu="+strconv.Itoa(sel.mtu)) // the bridge must not exceed the path
	}
	if p.HostGateway.IsValid() {
		args = append(args, "--host-gateway-ip="+p.HostGateway.String())
	}
	args = append(args, tcpArgs(c.tcp, p.DetachNetNS)...)
	p.DockerdArgs = args // completed by resolveLaunch
	p.Publish = append(slices.Clone(c.publish), tcpPublish(c.tcp, p.DetachNetNS)...)
	if err := portdriver.CheckPublish(p.Port, p.Publish...); err != nil {
		return err
	}
	return nil
}

// binderOf is the program that binds the host side of published ports: RootlessKit's parent
// (the helper, which is this executable, or the installed rootlesskit), or the network's
// program (slirp4netns, pasta).
func binderOf(p *Plan, sel selection) string {
	switch sel.port.Properties().Binder {
	case portdriver.BinderParent:
		if p.Engine == EngineExternal {
			return p.RootlessKit.Path
		}
		return p.h.executable
	case portdriver.BinderNetworkProgram:
		if prog := sel.net.Properties().Program; filepath.IsAbs(prog) {
			return prog
		}
	}
	return ""
}

// resolveDetach decides --detach-netns: asked for, or on when RootlessKit, dockerd and the
// network driver all allow it, as dockerd-rootless.sh does.
func (r *resolver) resolveDetach(net netdriver.Driver) error {
	p := r.p
	rkOK := p.RootlessKit.Version.AtLeast(netdriver.Version{Major: 2})
	netErr := netdriver.CheckDetachNetNS(net)
	switch {
	case r.c.detach == nil:
		switch {
		case !rkOK:
			p.Reasons.DetachNetNS = append(p.Reasons.DetachNetNS, "not detached: RootlessKit "+p.RootlessKit.Version.String()+" has no --detach-netns (2.0)")
		case !p.Dockerd.DetachNetNS:
			p.Reasons.DetachNetNS = append(p.Reasons.DetachNetNS, "not detached: dockerd "+p.Dockerd.Version+" cannot run outside RootlessKit's network namespace (Docker 29.5)")
		case netErr != nil:
			p.Reasons.DetachNetNS = append(p.Reasons.DetachNetNS, "not detached: "+diag.List(netErr)[0].Detail)
		default:
			p.DetachNetNS = true
			p.Reasons.DetachNetNS = append(p.Reasons.DetachNetNS, "dockerd and RootlessKit support --detach-netns: dockerd runs in the host's network namespace (faster pulls, docker run --net=host works)")
		}
	case !*r.c.detach:
		p.Reasons.DetachNetNS = append(p.Reasons.DetachNetNS, "not detached: WithDetachNetNS(false)")
	case !rkOK:
		return problem(IDDetachNetNSUnsupported, "RootlessKit "+p.RootlessKit.Version.String()+" has no --detach-netns (it needs 2.0)", p.RootlessKit.Path,
			"use the embedded engine or rootlesskit >= 2.0, or WithDetachNetNS(false)")
	case !p.Dockerd.DetachNetNS:
		return problem(IDDetachNetNSUnsupported, "dockerd "+p.Dockerd.Version+" does not support a detached network namespace (it needs Docker 29.5)", p.Dockerd.Path,
			"upgrade dockerd, or WithDetachNetNS(false)")
	case netErr != nil:
		return netErr
	default:
		p.DetachNetNS = true
		p.Reasons.DetachNetNS = append(p.Reasons.DetachNetNS, "detached: WithDetachNetNS(true)")
	}
	return nil
}

// resolveLaunch completes what the engine runs: dockerd's command line and environment, and
// RootlessKit's options and flags.
func (r *resolver) resolveLaunch() error {
	c, h, p := r.c, r.h, r.p
	l := p.Paths
	args := []string{p.Dockerd.Path,
		"--host=unix://" + l.Socket,
		"--data-root=" + l.DataRoot,
		"--exec-root=" + l.ExecRoot,
		"--pidfile=" + l.PIDFile,
	}
	if l.DaemonConfig != "" {
		args = append(args, "--config-file="+l.DaemonConfig)
	}
	fw := r.firewall
	if !r.firewallDecided {
		fw = r.firewallArgs(slices.Contains(p.DockerdArgs, "--userland-proxy=false"))
	}
	p.DockerdArgs = append(append(append(args, p.DockerdArgs...), fw...), c.dockerdArgs...)
	r.resolvePIDNamespace()
	selinux := h.selinux != nil && h.selinux()
	p.spec = engine.Spec{
		StateDir: l.RootlessKitStateDir, Net: p.Network, Port: p.Port, Publish: p.Publish,
		DetachNetNS: p.DetachNetNS, PIDNS: p.PIDNamespace,
		CopyUp: []string{"/etc", "/run"}, Propagation: "rslave", SubidSource: r.subidSource(),
		Debug:  c.debug(),
		Target: engine.Target{Argv: p.DockerdArgs, Env: r.dockerdEnv(selinux), Prepare: true, SELinux: selinux},
	}
	p.helperEnv = append(helperEnv(c), "PATH="+h.net.PATH)
	flags, err := p.spec.Flags(p.RootlessKit.Version)
	if errors.Is(err, netdriver.IDEmbeddedOnly) && p.Engine == EngineEmbedded {
		// RootlessKit's library runs what no rootlesskit command can: no equivalent flags,
		// and no fallback to the installed rootlesskit.
		p.Reasons.Engine = append(p.Reasons.Engine, fmt.Sprintf("no rootlesskit command runs network %s with port driver %s (only RootlessKit's library does), so there are no equivalent flags and no fallback", p.Network.Name(), p.Port.Name()))
		p.Fallback, p.RootlessKitFlags = nil, nil
		return nil
	}
	if err != nil {
		return err
	}
	p.RootlessKitFlags = flags
	return nil
}

// resolvePIDNamespace decides RootlessKit's --pidns from the cgroup driver dockerd will use
// (outlookCgroups: native.cgroupdriver in exec-opts, else systemd on cgroup v2 with systemd as
// init). With the systemd driver, runc asks the user's systemd to move each container's init
// into a scope by the PID runc sees; in a PID namespace of the daemon's own that PID is another
// process to systemd, which refuses ("unable to start unit docker-ID.scope ... Permission
// denied"), so no container could start. Debian's dockerd-rootless.sh fails the same way with
// DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS=--pidns (seen on Debian 13). Without the namespace the
// tree's lifetime rests on parent-death signals, as with dockerd-rootless.sh.
func (r *resolver) resolvePIDNamespace() {
	p, cg := r.p, r.doc.outlook.Cgroups
	why := "cgroup driver " + cmp.Or(cg.Driver, "unknown")
	if len(cg.Reasons) > 0 {
		why += ": " + cg.Reasons[0]
	}
	if cg.Driver == "systemd" {
		p.PIDNamespace = false
		p.Reasons.PIDNamespace = append(p.Reasons.PIDNamespace,
			"no PID namespace: systemd finds each container's scope by the PID runc sees, which a PID namespace of the daemon's own would make another process's", why)
		return
	}
	p.PIDNamespace = true
	p.Reasons.PIDNamespace = append(p.Reasons.PIDNamespace, "a PID namespace, so that the daemon's tree dies with RootlessKit's child", why)
}

// dockerdEnv is dockerd's environment: what the daemon may inherit of the caller's
// (daemonEnviron), plus a runtime directory. dockerd requires XDG_RUNTIME_DIR in rootless mode,
// and it and runc derive paths from it (runc's state, the containerd socket it probes first);
// pointing it at the exec root keeps all of that inside one directory that is removed when the
// daemon stops.
func (r *resolver) dockerdEnv(selinux bool) []string {
	env := append(r.c.daemonEnviron(), "PATH="+r.h.net.PATH, "HOME="+r.h.home, "XDG_RUNTIME_DIR="+r.p.Paths.ExecRoot)
	if selinux {
		env = append(env, "_DOCKERD_ROOTLESS_SELINUX=1") // dockerd then avoids overlay2 (moby#42333)
	}
	return env
}

// helperEnv is the environment of the engine's helper (or rootlesskit) and of the network
// programs it starts: what the daemon may inherit of the caller's; Launch adds PATH.
func helperEnv(c *config) []string { return c.daemonEnviron() }
