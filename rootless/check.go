package rootless

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/portdriver"
)

// Report is what Check found: every finding, worst first, the plan Launch would follow as far
// as the findings let Resolve get, and what dockerd will do on this host.
type Report struct {
	// Findings are every problem and fact found, errors first, then warnings, then info; each
	// severity in the order the checks ran.
	Findings []*diag.Finding `json:"findings"`
	// Plan is what Launch would do. With error-level findings it is as far as Resolve got:
	// fields it did not reach are zero. Nil when the options themselves are invalid.
	Plan *Plan `json:"plan"`
	// Docker is what dockerd will do with storage and cgroups: the storage driver it will pick,
	// the cgroup driver, and the docker run flags it will ignore.
	Docker Outlook `json:"docker"`
	// Distro is the host's distribution, whose commands the fixes use.
	Distro Distro `json:"distro"`
}

// Err returns the error-level findings joined, or nil when Launch has what it needs.
func (r *Report) Err() error {
	var errs []error
	for _, f := range r.Findings {
		if f.Severity == diag.Error {
			errs = append(errs, f)
		}
	}
	return errors.Join(errs...)
}

// Check inspects the host for a daemon with the given options and reports every finding at
// once, warnings and notes included, with the plan as far as it got and what dockerd will do
// with storage and cgroups. It is Resolve's report, not a second set of checks: the same
// resolve, with the findings that stop Resolve kept in the report instead of returned as the
// error. The error is for a Check that could not run: invalid options (ErrInvalidOption), a
// done ctx, ErrNotSupported off Linux. Check starts nothing and changes nothing but its probes
// (see "Host requirements" in the package documentation).
//
//	rep, err := rootless.Check(ctx)
//	if err != nil {
//		return err
//	}
//	for _, f := range rep.Findings {
//		fmt.Printf("%s %s: %s\n  fix: %s\n", f.Severity, f.ID, f.Detail, f.Fix)
//	}
func Check(ctx context.Context, opts ...Option) (*Report, error) {
	if runtime.GOOS != "linux" {
		return nil, ErrNotSupported
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return check(ctx, c, localHost(daemonPath(c.bins.Path, envLookup(c.environ)("PATH"))))
}

func check(ctx context.Context, c *config, h *host) (*Report, error) {
	p, err := resolve(ctx, c, h)
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	if err != nil && len(diag.List(err)) == 0 {
		return nil, err
	}
	fs := slices.Clone(p.Findings)
	slices.SortStableFunc(fs, func(a, b *diag.Finding) int { return int(b.Severity) - int(a.Severity) })
	rep := &Report{Findings: fs, Plan: p}
	if p.doc != nil {
		rep.Docker, rep.Distro = p.doc.outlook, p.doc.distro
	}
	return rep, nil
}

// checkHost runs the host checks that depend on neither the dockerd binary nor the drivers;
// resolve runs it concurrently with their probes.
func checkHost(ctx context.Context, r *resolver) error {
	h := r.h
	errs := []error{checkUserNS(h), checkSubids(ctx, r), checkHelpers(h), checkCgroups(ctx, r), checkIptables(r), checkPing(h),
		checkNoNewPrivs(h), checkNested(h), checkKernelConfig(r), checkConflicts(r)}
	if _, err := h.net.LookPath("nsenter"); err != nil {
		errs = append(errs, warning(IDNsenterMissing, "nsenter not found: Daemon.Command cannot enter the daemon's namespaces", "PATH="+h.net.PATH,
			r.doc.distro.install(pkgUtilLinux)))
	}
	return errors.Join(errs...)
}

// checkChoices runs the checks that depend on the chosen dockerd and drivers.
func checkChoices(r *resolver) error {
	p := r.p
	errs := []error{checkTun(r), checkMTU(r), checkPorts(r), checkDNS(r)}
	// dockerd < 28 runs rootlesskit-docker-proxy for every published port, whatever the port
	// driver (with implicit, which has no API, the proxy hands the port to docker-proxy).
	if !p.Dockerd.PortsViaAPI && p.Port.Name() != portdriver.NameNone {
		path, err := r.h.net.LookPath("rootlesskit-docker-proxy")
		if err != nil {
			errs = append(errs, because(problem(IDDockerProxyMissing,
				fmt.Sprintf("dockerd %s (< 28) publishes `docker run -p` ports through rootlesskit-docker-proxy, which is not installed", p.Dockerd.Version),
				"PATH="+r.h.net.PATH,
				"install it ("+r.doc.distro.install(pkgDockerProxy)+"), put its directory in Binaries.Path, or use Docker >= 28"), err))
		} else if p.Port.Name() == portdriver.NameImplicit {
			// Before RootlessKit 2.0 the proxy fails without a port API ("no port driver is
			// available"); 2.0 and later exec docker-proxy for such ports, which listens in the
			// namespace, where pasta finds it (--tcp-ports=auto). Only a proxy known to be older
			// is refused.
			if passes, known, how := proxyPassesImplicit(r.h, path); known && !passes {
				errs = append(errs, problem(IDDockerProxyTooOld,
					fmt.Sprintf("dockerd %s (< 28) publishes `docker run -p` ports through %s, which is RootlessKit 1's and fails with port driver implicit (\"no port driver is available\")", p.Dockerd.Version, path),
					path+": "+how,
					"use port driver pesto with pasta (or builtin, on the embedded engine), install rootlesskit-docker-proxy from RootlessKit 2.0 or later, or use Docker >= 28"))
			}
		}
	}
	return errors.Join(errs...)
}

// rootlessKitModule is RootlessKit's Go module path before v2; v2 and later add /vN, but
// Debian builds them under this path too.
const rootlessKitModule = "github.com/rootless-containers/rootlesskit"

// execSymbol is the name of syscall.Exec in a Go binary's function table: RootlessKit 2.0's
// proxy execs docker-proxy for a port of the implicit driver (and the none driver), 1.x's has
// no call of it.
var execSymbol = []byte("\x00syscall.Exec\x00")

// proxyPassesImplicit tells what the rootlesskit-docker-proxy at path does with a port of the
// implicit port driver: passes is true when it execs docker-proxy, which listens in the
// namespace (RootlessKit 2.0 and later), false when it fails without a port API (1.x); known
// is false when that cannot be told, e.g. for a program that is not RootlessKit's; how says
// what told it. The proxy's own Go build info gives a major version only for a module build
// (.../rootlesskit/v2/cmd/rootlesskit-docker-proxy): Debian builds 2.0.2 under the v1 import
// path. So the function table decides: 2.0 links syscall.Exec. Not the string "implicit":
// Go compiles the comparison with it into an immediate operand, no string literal has it.
func proxyPassesImplicit(h *host, path string) (passes, known bool, how string) {
	f, err := h.fs.Open(strings.TrimPrefix(filepath.Clean(path), "/"))
	if err != nil {
		return false, false, ""
	}
	defer f.Close()
	ours := false
	if ra, ok := f.(io.ReaderAt); ok {
		if bi, err := buildinfo.Read(ra); err == nil {
			switch m := modulePathMajor(bi.Path); {
			case m >= 2:
				return true, true, fmt.Sprintf("Go build info: main package %s (RootlessKit %d)", bi.Path, m)
			case m == 0:
				return false, false, ""
			}
			ours = true
		}
		if s, ok := f.(io.Seeker); ok {
			if _, err := s.Seek(0, io.SeekStart); err != nil {
				return false, false, ""
			}
		}
	}
	found, err := scan(f, execSymbol, []byte(rootlessKitModule+"/"))
	switch {
	case err != nil || !ours && !found[1]:
		return false, false, ""
	case found[0]:
		return true, true, "RootlessKit's, and it links syscall.Exec (2.0 and later exec docker-proxy for implicit)"
	}
	return false, true, "RootlessKit's, without syscall.Exec in its function table: 1.x"
}

// modulePathMajor is the RootlessKit major version of an import path in its module: 1 for
// github.com/rootless-containers/rootlesskit/..., N for .../vN/...; 0 for another module's.
func modulePathMajor(importPath string) int {
	rest, ok := strings.CutPrefix(importPath, rootlessKitModule)
	if !ok || rest != "" && rest[0] != '/' {
		return 0
	}
	if v, ok := strings.CutPrefix(rest, "/v"); ok {
		num, _, _ := strings.Cut(v, "/")
		if n, err := strconv.Atoi(num); err == nil && n >= 2 {
			return n
		}
	}
	return 1
}

// checkStateDirSafety refuses a state directory that another user could have created or could
// change: under /tmp and the like (TOCTOU), writable by group or others, or owned by someone
// else. It only reads; Launch creates the directory with mode 0700.
func checkStateDirSafety(h *host, dir string) error {
	for a := dir; ; a = parentDir(a) {
		uid, mode, err := h.dir(a)
		switch {
		case err == nil && a == dir:
			if uid != h.uid {
				return problem(IDStateDirOwner, fmt.Sprintf("%s is owned by uid %d, not by you (%d)", dir, uid, h.uid), dir,
					"use a directory you own (WithStateDir)")
			}
			if mode&0o077 != 0 {
				return problem(IDStateDirMode, fmt.Sprintf("%s has mode %04o: other users can reach the daemon's sockets", dir, mode&0o7777), dir,
					"run: chmod 0700 "+dir)
			}
		case err == nil && mode&0o002 != 0:
			return problem(IDStateDirUnsafe,
				fmt.Sprintf("%s is inside %s, which every user can write to: another user could create or replace it first", dir, a),
				fmt.Sprintf("%s has mode %04o", a, mode&0o7777),
				"use a private directory such as $XDG_RUNTIME_DIR (/run/user/UID) or one under your home directory (WithStateDir)")
		}
		if a == "/" {
			if f := uncreatable(h, dir, IDStateDirCreate, "WithStateDir"); f != nil {
				return f
			}
			return nil
		}
	}
}

func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// nfsMagic is the statfs type of NFS mounts.
const nfsMagic = 0x6969

// checkDataRoot refuses a data root on NFS (the seed's "lchown ... operation not permitted").
// A data root that does not exist yet is judged by the file system it will be created on.
func checkDataRoot(h *host, dir string) error {
	if f := uncreatable(h, dir, IDDataRootCreate, "WithDataRoot"); f != nil {
		return f
	}
	t, err := h.statfs(dir)
	if err != nil || t != nfsMagic {
		return nil // unknown: dockerd reports what it cannot do
	}
	return problem(IDDataRootNFS,
		fmt.Sprintf("data root %s is on NFS: image layers fail with \"lchown <FILE>: operation not permitted\" (NFS does not honour the user namespace's ids)", dir),
		dir+" on nfs",
		`put the data root on a local file system: rootless.WithDataRoot("/somewhere-out-of-nfs"), or {"data-root":"/somewhere-out-of-nfs"} in ~/.config/docker/daemon.json`)
}

// uncreatable reports a directory that does not exist and that Launch cannot create: the
// nearest existing directory above it is another user's and not writable by everyone.
func uncreatable(h *host, dir string, id diag.ID, option string) *diag.Finding {
	if _, _, err := h.dir(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for a := parentDir(dir); ; a = parentDir(a) {
		uid, mode, err := h.dir(a)
		if err == nil {
			if uid == h.uid || mode&0o002 != 0 {
				return nil
			}
			return problem(id,
				fmt.Sprintf("%s does not exist, and Launch cannot create it: %s belongs to uid %d and is mode %04o", dir, a, uid, mode&0o7777),
				fmt.Sprintf("%s: owner uid %d, mode %04o", a, uid, mode&0o7777),
				fmt.Sprintf("choose a directory you can write to (%s), or have it made for you: sudo install -d -m 0700 -o %s %s", option, orElse(h.user, strconv.Itoa(h.uid)), dir))
		}
		if !errors.Is(err, fs.ErrNotExist) || a == "/" {
			return nil
		}
	}
}

// sysctl reads a sysctl of h.
func sysctl(h *host, key string) (string, bool) {
	v, err := h.net.Sysctl(key)
	return v, err == nil
}

// checkUserNS covers the kernel switches for unprivileged user namespaces.
func checkUserNS(h *host) error {
	var errs []error
	if v, ok := sysctl(h, "kernel.unprivileged_userns_clone"); ok && v != "1" {
		errs = append(errs, problem(IDUsernsCloneDisabled,
			"unprivileged users cannot create user namespaces (RootlessKit fails with \"fork/exec /proc/self/exe: operation not permitted\")",
			"kernel.unprivileged_userns_clone = "+v,
			"echo 'kernel.unprivileged_userns_clone=1' | sudo tee /etc/sysctl.d/50-rootless.conf && sudo sysctl --system"))
	}
	if v, ok := sysctl(h, "user.max_user_namespaces"); ok {
		if n, _ := strconv.Atoi(v); n == 0 {
			errs = append(errs, problem(IDMaxUserNamespacesZero,
				"no user namespace may be created (RootlessKit fails with \"fork/exec /proc/self/exe: no space left on device\")",
				"user.max_user_namespaces = "+v,
				"echo 'user.max_user_namespaces=28633' | sudo tee /etc/sysctl.d/51-rootless.conf && sudo sysctl --system"))
		}
	}
	return errors.Join(errs...)
}

// restrictedUserNS reports Ubuntu's AppArmor restriction of unprivileged user namespaces.
func restrictedUserNS(h *host) bool {
	v, ok := sysctl(h, "kernel.apparmor_restrict_unprivileged_userns")
	return ok && v == "1"
}

// deniedUserNS reports the log of an engine that was denied a user namespace by AppArmor.
func deniedUserNS(lines []string) bool {
	return slices.ContainsFunc(lines, func(l string) bool {
		return strings.Contains(l, "fork/exec /proc/self/exe: permission denied")
	})
}

// checkSubids looks up and validates the user's subordinate ids the way RootlessKit reads them.
func checkSubids(ctx context.Context, r *resolver) error {
	h := r.h
	if h.user == "" {
		return problem(IDUserUnknown, fmt.Sprintf("uid %d has no passwd entry, so its subordinate ids cannot be looked up", h.uid),
			fmt.Sprintf("uid %d", h.uid), "give the uid a passwd entry (useradd, or your directory service)")
	}
	u := idmap.User{Name: h.user, UID: uint32(h.uid)}
	s, err := lookupSubids(ctx, r, u) // s is never nil; Validate repeats err's findings
	if ctx.Err() != nil {
		return err
	}
	ns, _ := h.namespace()
	var errs []error
	for _, f := range idmap.Validate(s, ns) {
		errs = append(errs, f)
	}
	return errors.Join(errs...)
}

// lookupSubids looks the user's subordinate ids up as RootlessKit will. With the default
// source (RootlessKit's auto: getsubids, then the files), when /etc/nsswitch.conf sends the
// subid database to the files (no subid: line, or subid: files, as on nearly every host),
// getsubids would only read /etc/subuid and /etc/subgid: they are read directly, which spares
// four process starts. Otherwise getsubids runs, and a complete answer is kept until one of
// those files or getsubids itself changes.
func lookupSubids(ctx context.Context, r *resolver, u idmap.User) (*idmap.Subids, error) {
	h := r.h
	src := r.c.subidSource
	if a, ok := src.(idmap.Auto); ok && a == (idmap.Auto{}) && nssFiles(h) {
		return idmap.Lookup(ctx, h.subids(idmap.Files{}), u)
	}
	key := ""
	if a, ok := src.(idmap.Auto); ok && a == (idmap.Auto{}) && h.probeCache != nil {
		key = fmt.Sprintf("subids\x00%s\x00%d\x00%s", u.Name, u.UID, os.Getenv("GETSUBIDS"))
		for _, p := range []string{"/etc/subuid", "/etc/subgid", "/etc/nsswitch.conf", "getsubids"} {
			if !strings.HasPrefix(p, "/") {
				lp, err := h.net.LookPath(p)
				if err != nil {
					key += "\x00none"
					continue
				}
				p = lp
			}
			if fi, err := h.net.Stat(p); err == nil {
				key += "\x00" + p + "=" + statKey(fi)
			} else {
				key += "\x00" + p + "=none"
			}
		}
		if v, ok := h.probeCache.Load(key); ok {
			return v.(*idmap.Subids), nil
		}
	}
	s, err := idmap.Lookup(ctx, h.subids(src), u)
	if err == nil && key != "" && ctx.Err() == nil && (s.Source == "files" || s.NSS.Files()) {
		h.probeCache.Store(key, s)
	}
	return s, err
}

// nssFiles reports whether the subid database is the files: /etc/nsswitch.conf is missing, has
// no subid: line, or names files first.
func nssFiles(h *host) bool {
	b, err := h.net.ReadFile("/etc/nsswitch.conf")
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	nss, err := idmap.ParseNSSwitch("/etc/nsswitch.conf", bytes.NewReader(b))
	return err == nil && nss.Files()
}

// checkHelpers checks that newuidmap and newgidmap can write maps.
func checkHelpers(h *host) error {
	var errs []error
	for _, name := range []string{"newuidmap", "newgidmap"} {
		if _, err := h.helper(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkCgroups reports what cgroup delegation allows: without it, --cpus, --memory and
// --pids-limit are ignored.
func checkCgroups(ctx context.Context, r *resolver) error {
	sys := *r.h.cgroups
	sys.Getenv = envLookup(r.c.environ)
	rep, err := cgroupdeleg.Detect(ctx, &sys, r.h.uid)
	if err != nil {
		return because(warning(IDCgroupUnknown, "the cgroup set-up could not be inspected: "+err.Error(), "/sys/fs/cgroup",
			"see https://rootlesscontaine.rs/getting-started/common/cgroup2/"), err)
	}
	r.doc.cgroups = rep
	var errs []error
	for _, f := range rep.Findings {
		errs = append(errs, f)
	}
	return errors.Join(errs...)
}

// checkIptables checks that dockerd finds iptables (unless --iptables=false); whether it works
// inside the namespace is the probe's to say (checkIptablesProbe).
func checkIptables(r *resolver) error {
	h := r.h
	if iptablesOff(h, r.c.dockerdArgs, r.daemonConfigPath()) {
		return nil
	}
	if _, err := h.net.LookPath("iptables"); err != nil {
		return because(problem(IDIptablesMissing, "iptables not found: dockerd sets up container networking with it", "PATH="+h.net.PATH,
			r.doc.distro.install(pkgIptables)+`, or WithDockerdArgs("--iptables=false")`), err)
	}
	return nil
}

// iptablesOff reports whether dockerd is told not to use iptables, on its command line
// (--iptables=false, =0, ...) or in its daemon.json ("iptables": false).
func iptablesOff(h *host, args []string, daemonJSON string) bool {
	off := false
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--iptables="); ok {
			b, err := strconv.ParseBool(v)
			off = err == nil && !b
		}
	}
	if daemonJSON == "" {
		return off
	}
	var cfg struct {
		Iptables *bool `json:"iptables"`
	}
	if b, err := h.net.ReadFile(daemonJSON); err == nil && json.Unmarshal(b, &cfg) == nil && cfg.Iptables != nil {
		return off || !*cfg.Iptables
	}
	return off
}

// checkTun checks that the tap device RootlessKit creates for the network driver can be opened.
func checkTun(r *resolver) error {
	d := r.p.Network
	switch d.Name() {
	case "lxc-user-nic", "none":
		return nil // no tap device: a veth pair, or loopback only
	}
	if !d.Properties().Namespace {
		return nil
	}
	err := r.h.tun()
	if err == nil {
		return nil
	}
	return because(problem(IDTunUnusable, "cannot open /dev/net/tun: RootlessKit's tap device fails with \"open: Permission denied\"",
		"/dev/net/tun: "+err.Error(),
		"sudo chmod 0666 /dev/net/tun (persistently: a udev rule KERNEL==\"tun\", MODE=\"0666\")"), err)
}

// checkMTU warns when the default route's MTU is below the namespace's and clamping is off.
func checkMTU(r *resolver) error {
	if r.c.clampMTU {
		return nil
	}
	rt, err := r.h.net.DefaultRoute()
	mtu := r.p.MTU
	if err != nil || rt.MTU == 0 || rt.MTU >= mtu || rt.MTU >= 1500 {
		return nil
	}
	return warning(IDMTUAboveRoute,
		fmt.Sprintf("the default route (%s) has MTU %d, below the namespace's %d: pulls and TLS handshakes may hang", rt.Iface, rt.MTU, mtu),
		fmt.Sprintf("/sys/class/net/%s/mtu = %d", rt.Iface, rt.MTU),
		"use rootless.WithMTUClamp(true)")
}
