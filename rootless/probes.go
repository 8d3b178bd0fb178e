package rootless

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"syscall"
)

// errNoProbe says a probe could not be run at all (no mount program, no directory to probe
// in): its absence is no evidence either way.
var errNoProbe = errors.New("probe not run")

// A probeResult is what one probe printed and how it ended.
type probeResult struct {
	ran  bool   // false: not run (not needed, or errNoProbe)
	argv string // the command, for the evidence
	out  []byte
	err  error
}

// failed reports a probe that ran and failed.
func (p probeResult) failed() bool { return p.ran && p.err != nil }

// firstLine is the probe's first line of output, or its error.
func (p probeResult) firstLine() string {
	if s := strings.TrimSpace(string(p.out)); s != "" {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[:i]
		}
		return s
	}
	if p.err != nil {
		return p.err.Error()
	}
	return ""
}

// cloneErrno returns the errno of a probe that failed before its program ran: creating the
// user namespace (or writing its maps) failed. A missing program is not such a failure.
func (p probeResult) cloneErrno() (syscall.Errno, bool) {
	var pe *fs.PathError
	if !p.ran || !errors.As(p.err, &pe) || pe.Op != "fork/exec" {
		return 0, false
	}
	var errno syscall.Errno
	if !errors.As(pe.Err, &errno) {
		return 0, false
	}
	switch errno {
	case syscall.ENOENT, syscall.ENOEXEC, syscall.ENOTDIR, syscall.E2BIG:
		return 0, false
	}
	return errno, true
}

// probes are the processes Check starts inside fresh namespaces, concurrently with the other
// checks: an overlay mount inside a user and mount namespace, iptables's nat and filter
// tables inside a user and network namespace, and, when neither runs, a bare user namespace.
// Each is cheap (a few milliseconds), and a successful answer is kept for the life of the
// process, by the versions of the programs and the kernel settings it depends on.
type probes struct {
	wg sync.WaitGroup
	// overlayDir is where the overlay probe made its directories: next to the data root.
	overlayDir string
	overlay    probeResult
	// iptables is the program probed ("" if dockerd is told not to use it, or it is missing);
	// nft marks nft, for dockerd's nftables firewall backend.
	iptables    string
	nft         bool
	nat, filter probeResult
	userns      probeResult // only when neither of the others could show it
}

// wait waits for every probe.
func (pr *probes) wait() { pr.wg.Wait() }

// usernsResult is the probe that shows whether this process may create a user namespace: the
// first one that ran.
func (pr *probes) usernsResult() probeResult {
	pr.wait()
	for _, p := range []probeResult{pr.overlay, pr.nat, pr.filter, pr.userns} {
		if p.ran {
			return p
		}
	}
	return probeResult{}
}

// startProbes starts the probes for the plan's paths; r.p.Paths must be resolved.
func (r *resolver) startProbes(ctx context.Context) *probes {
	h, l := r.h, r.p.Paths
	pr := &probes{}
	if h.overlay != nil {
		if dir := probeDir(h, l.DataRoot); dir != "" {
			pr.overlayDir = dir
			pr.wg.Go(func() {
				// The answer is the kernel's and the directory's filesystem's: the device keys it.
				var dev []string
				if h.fileID != nil {
					if d, _, err := h.fileID(dir); err == nil {
						dev = []string{"device " + d}
					}
				}
				pr.overlay = r.probe(ctx, "overlay mount in a user namespace, in "+dir, nil, dev, func() ([]byte, error) { return h.overlay(ctx, dir) })
			})
		}
	}
	return pr
}

// startFirewall starts the probe of dockerd's firewall backend: backend ("nftables" when the
// plan adds dockerd's nftables backend), else the caller's choice (arguments, daemon.json), else
// iptables; and the bare user-namespace probe when neither this nor the overlay probe runs. It
// is called once per resolve, before anything waits for the probes.
func (pr *probes) startFirewall(ctx context.Context, r *resolver, backend string) {
	h := r.h
	if cfg := r.daemonConfigPath(); h.nsRun != nil && !iptablesOff(h, r.c.dockerdArgs, cfg) {
		if backend == "" {
			backend = firewallBackend(h, r.c.dockerdArgs, cfg)
		}
		if backend == "nftables" {
			if p, err := h.net.LookPath("nft"); err == nil {
				pr.iptables, pr.nft = p, true
				argv := []string{p, "add table ip rootlessd_probe; add chain ip rootlessd_probe nat { type nat hook postrouting priority 100 ; }"}
				pr.wg.Go(func() { pr.nat = r.nsProbe(ctx, nil, argv) })
			}
		} else if p, err := h.net.LookPath("iptables"); err == nil {
			pr.iptables = p
			// dockerd's first calls: its DOCKER chains. Legacy iptables locks /run/xtables.lock,
			// which RootlessKit's namespace has (a tmpfs /run) and this probe does not.
			env := []string{"XTABLES_LOCKFILE=/dev/null"}
			pr.wg.Go(func() { pr.nat = r.nsProbe(ctx, env, []string{p, "-w", "-t", "nat", "-N", "ROOTLESSD-PROBE"}) })
			pr.wg.Go(func() { pr.filter = r.nsProbe(ctx, env, []string{p, "-w", "-t", "filter", "-N", "ROOTLESSD-PROBE"}) })
		}
	}
	if pr.overlayDir == "" && pr.iptables == "" && h.nsRun != nil {
		if p, err := h.net.LookPath("true"); err == nil {
			pr.wg.Go(func() { pr.userns = r.nsProbe(ctx, nil, []string{p}) })
		}
	}
}

// nsProbe runs argv in a new user and network namespace.
func (r *resolver) nsProbe(ctx context.Context, env, argv []string) probeResult {
	return r.probe(ctx, strings.Join(argv, " "), argv[:1], env, func() ([]byte, error) { return r.h.nsRun(ctx, env, argv...) })
}

// probe runs fn, the probe described by what, unless a successful answer to the same question
// is cached: the same programs (bins, by size, time and inode), the same extra facts (the
// environment, the directory's device), the same user-namespace sysctls and the same AppArmor
// confinement of this process. A success is kept for the life of the process, and for the rest
// of the boot in the user's runtime directory: a fresh process that checks the host again
// starts no namespace. A failure is asked again each time: it is what the user is fixing.
func (r *resolver) probe(ctx context.Context, what string, bins, extra []string, fn func() ([]byte, error)) probeResult {
	h := r.h
	res := probeResult{ran: true, argv: what}
	key := ""
	if h.probeCache != nil {
		key = "probe\x00" + what + "\x00" + strings.Join(extra, "\x00") + "\x00" + usernsState(h)
		for _, b := range bins {
			fi, err := h.net.Stat(b)
			if err != nil {
				key = ""
				break
			}
			key += "\x00" + statKey(fi)
		}
		if key != "" {
			if v, ok := h.probeCache.Load(key); ok {
				res.out = v.([]byte)
				return res
			}
			if h.bootAnswers != nil {
				if out, ok := h.bootAnswers.Load(key); ok {
					h.probeCache.Store(key, out)
					res.out = out
					return res
				}
			}
		}
	}
	res.out, res.err = fn()
	if errors.Is(res.err, errNoProbe) {
		return probeResult{}
	}
	if ctx.Err() != nil {
		res.err = ctx.Err()
		return res
	}
	if res.err == nil && key != "" {
		h.probeCache.Store(key, res.out)
		if h.bootAnswers != nil {
			h.bootAnswers.Store(key, res.out)
		}
	}
	return res
}

// usernsState is what decides whether this process may create user namespaces, for the probe
// cache: the sysctls and this process's AppArmor label.
func usernsState(h *host) string {
	var b strings.Builder
	for _, k := range []string{"kernel.unprivileged_userns_clone", "user.max_user_namespaces", "kernel.apparmor_restrict_unprivileged_userns"} {
		v, _ := sysctl(h, k)
		b.WriteString(v + "\x00")
	}
	b.WriteString(apparmorLabel(h))
	return b.String()
}

// probeDir is where the overlay probe makes its directories: the data root, or the nearest
// existing directory above it, when that is the user's own (as Launch will create the data
// root there); "" otherwise.
func probeDir(h *host, dataRoot string) string {
	for d := dataRoot; ; d = parentDir(d) {
		uid, _, err := h.dir(d)
		if err == nil {
			if uid == h.uid {
				return d
			}
			return ""
		}
		if d == "/" {
			return ""
		}
	}
}

// firewallBackend is dockerd's --firewall-backend (or daemon.json's "firewall-backend"):
// "iptables" (the default) or "nftables" (Docker 29).
func firewallBackend(h *host, args []string, daemonJSON string) string {
	v := daemonSetting(h, daemonJSON, "firewall-backend")
	for _, a := range args {
		if s, ok := strings.CutPrefix(a, "--firewall-backend="); ok {
			v = s
		}
	}
	if v == "" {
		return "iptables"
	}
	return v
}

// apparmorLabel is this process's AppArmor confinement ("unconfined", "name (enforce)"), or ""
// without AppArmor.
func apparmorLabel(h *host) string {
	for _, p := range []string{"/proc/self/attr/apparmor/current", "/proc/self/attr/current"} {
		if b, err := h.net.ReadFile(p); err == nil {
			return strings.TrimSpace(strings.TrimRight(string(b), "\x00"))
		}
	}
	return ""
}

// fmtErrno names an errno the way Go's os package prints it, with its symbol.
func fmtErrno(e syscall.Errno) string {
	names := map[syscall.Errno]string{syscall.EPERM: "EPERM", syscall.EACCES: "EACCES", syscall.ENOSPC: "ENOSPC",
		syscall.EINVAL: "EINVAL", syscall.EUSERS: "EUSERS", syscall.ENOMEM: "ENOMEM"}
	if n, ok := names[e]; ok {
		return fmt.Sprintf("%s (%v)", n, e)
	}
	return e.Error()
}
