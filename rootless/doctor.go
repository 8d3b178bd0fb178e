package rootless

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// doctor is what the host checks learn on the way that the report shows besides the
// findings: the distribution (whose commands the fixes use), the probes, the cgroup set-up and
// what dockerd will do with storage and cgroups.
type doctor struct {
	distro  Distro
	kernel  kernelRelease
	probes  *probes
	cgroups *cgroupdeleg.Report // nil if it could not be inspected
	outlook Outlook

	configOnce sync.Once
	config     map[string]json.RawMessage // daemon.json, nil if none
	configPath string                     // where config was read; "" if none
	configWant string                     // the daemon.json dockerd will read, if it exists
}

func newDoctor(h *host) *doctor {
	return &doctor{distro: distroOf(h), kernel: kernelOf(h)}
}

// daemonConfig is the daemon.json dockerd will read: Paths.DaemonConfig, else its own default
// in rootless mode, $XDG_CONFIG_HOME/docker/daemon.json (~/.config/docker/daemon.json).
func (r *resolver) daemonConfig() (map[string]json.RawMessage, string) {
	d := r.doc
	d.configOnce.Do(func() {
		p := r.p.Paths.DaemonConfig
		if p == "" {
			if x := envLookup(r.c.environ)("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
				p = filepath.Join(x, "docker", "daemon.json")
			} else if filepath.IsAbs(r.h.home) {
				p = filepath.Join(r.h.home, ".config", "docker", "daemon.json")
			}
		}
		d.configWant = p
		if p == "" {
			return
		}
		if b, err := r.h.net.ReadFile(p); err == nil && json.Unmarshal(b, &d.config) == nil {
			d.configPath = p
		}
	})
	return d.config, d.configPath
}

// daemonConfigPath is the daemon.json dockerd will read (which may not exist); "" if none.
func (r *resolver) daemonConfigPath() string {
	r.daemonConfig()
	return r.doc.configWant
}

// daemonSetting is the string value of key in the daemon.json at path; "" if unset.
func daemonSetting(h *host, path, key string) string {
	if path == "" {
		return ""
	}
	b, err := h.net.ReadFile(path)
	if err != nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	s, _ := m[key].(string)
	return s
}

// setting is a string setting of dockerd: its last --flag=value argument, else daemon.json's
// key; "" if neither sets it.
func (r *resolver) setting(flag, key string) (value, where string) {
	for _, a := range r.c.dockerdArgs {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			value, where = v, "dockerd "+flag+"="+v
		}
	}
	if value != "" {
		return value, where
	}
	cfg, path := r.daemonConfig()
	var s string
	if raw, ok := cfg[key]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
		return s, fmt.Sprintf("%s: %q: %q", path, key, s)
	}
	return "", ""
}

// execOpt is dockerd's exec-opt name (native.cgroupdriver), from --exec-opt or daemon.json's
// "exec-opts"; "" if unset.
func (r *resolver) execOpt(name string) (value, where string) {
	cfg, path := r.daemonConfig()
	var opts []string
	if raw, ok := cfg["exec-opts"]; ok && json.Unmarshal(raw, &opts) == nil {
		for _, o := range opts {
			if v, ok := strings.CutPrefix(o, name+"="); ok {
				value, where = v, fmt.Sprintf("%s: \"exec-opts\": %q", path, o)
			}
		}
	}
	for i, a := range r.c.dockerdArgs {
		v, ok := strings.CutPrefix(a, "--exec-opt=")
		if !ok && a == "--exec-opt" && i+1 < len(r.c.dockerdArgs) {
			v, ok = r.c.dockerdArgs[i+1], true
		}
		if ok {
			if s, ok := strings.CutPrefix(v, name+"="); ok {
				value, where = s, "dockerd --exec-opt="+v
			}
		}
	}
	return value, where
}

// kernelRelease is the running kernel, from /proc/sys/kernel.
type kernelRelease struct {
	release      string // osrelease, "6.8.0-45-generic"
	major, minor int
	ubuntu       bool // an Ubuntu kernel: overlayfs in user namespaces before 5.11
}

func kernelOf(h *host) kernelRelease {
	rel, _ := sysctl(h, "kernel.osrelease")
	k := kernelRelease{release: rel}
	f := strings.FieldsFunc(rel, func(r rune) bool { return r == '.' || r == '-' || r == '+' })
	if len(f) >= 2 {
		k.major, _ = strconv.Atoi(f[0])
		k.minor, _ = strconv.Atoi(f[1])
	}
	v, _ := sysctl(h, "kernel.version")
	k.ubuntu = strings.Contains(v, "Ubuntu")
	return k
}

func (k kernelRelease) known() bool { return k.major > 0 }

func (k kernelRelease) atLeast(major, minor int) bool {
	return k.major > major || k.major == major && k.minor >= minor
}

// checkUserns reads the probes' answer to "may this process create a user namespace?". The
// sysctls behind the usual refusals are checked on their own (checkUserNS); this reports what
// they do not explain. AppArmor's refusals are checkAppArmor's.
func checkUserns(r *resolver) error {
	h := r.h
	probe := r.doc.probes.usernsResult()
	errno, ok := probe.cloneErrno()
	if !ok {
		return nil
	}
	ev := fmt.Sprintf("probe %q in a new user namespace: %v", probe.argv, probe.err)
	switch errno {
	case syscall.EACCES:
		if apparmorEnabled(h) {
			return nil // checkAppArmor explains it, for the program that will run
		}
		return problem(IDUsernsDenied,
			"creating a user namespace is refused with \"permission denied\" by a security module (RootlessKit fails with \"fork/exec /proc/self/exe: permission denied\")", ev,
			"allow user namespaces for this program in the security policy that confines it (SELinux: sudo ausearch -m avc -ts recent shows the denial)")
	case syscall.EPERM:
		if v, ok := sysctl(h, "kernel.unprivileged_userns_clone"); ok && v != "1" {
			return nil // IDUsernsCloneDisabled
		}
		return problem(IDUsernsDenied,
			"creating a user namespace is refused with \"operation not permitted\" although the sysctls allow it: a seccomp filter forbids it, as Docker's and Podman's default profiles do inside containers (RootlessKit fails with \"fork/exec /proc/self/exe: operation not permitted\")", ev,
			"run this program outside the container, or run the container with --privileged (Docker's docker:dind-rootless image needs it too), or with --security-opt seccomp=unconfined --security-opt apparmor=unconfined; in a systemd unit, remove RestrictNamespaces= and SystemCallFilter= for it")
	case syscall.ENOSPC:
		if v, ok := sysctl(h, "user.max_user_namespaces"); ok && v == "0" {
			return nil // IDMaxUserNamespacesZero
		}
		v, _ := sysctl(h, "user.max_user_namespaces")
		return problem(IDUsernsDenied,
			"the user namespace limit is used up (RootlessKit fails with \"fork/exec /proc/self/exe: no space left on device\")", ev+"; user.max_user_namespaces = "+v,
			"raise the limit: echo 'user.max_user_namespaces=28633' | sudo tee /etc/sysctl.d/51-rootless.conf && sudo sysctl --system (inside a container, its parent namespace's limit applies)")
	case syscall.EINVAL:
		return problem(IDKernelNoUserns, "the kernel has no user namespaces (clone with CLONE_NEWUSER fails with \"invalid argument\"): rootless mode cannot work", ev,
			"boot a kernel built with CONFIG_USER_NS=y (every distribution kernel is)")
	case syscall.EUSERS:
		return problem(IDUsernsDenied, "user namespaces are nested 32 deep, the kernel's limit", ev, "run this program in a less nested namespace")
	}
	return problem(IDUsernsDenied, "creating a user namespace fails: "+errno.Error(), ev,
		"make user namespaces available to unprivileged users (see https://rootlesscontaine.rs/getting-started/common/)")
}

// apparmorEnabled reports a kernel with AppArmor on.
func apparmorEnabled(h *host) bool {
	b, err := h.net.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(b), "Y")
}

// namespaceBinary is the program that will create the user namespace: this executable for the
// embedded engine (its helper re-run), the installed rootlesskit for the external one.
func namespaceBinary(p *Plan) string {
	if p.Engine == EngineExternal {
		return p.RootlessKit.Path
	}
	return p.h.executable
}

// checkAppArmor checks that AppArmor lets the program that will create the namespaces do so:
// Ubuntu's kernel.apparmor_restrict_unprivileged_userns (>= 24.04), which lets only profiled
// programs with `userns,` create working user namespaces, and any profile without it that
// confines the program (AppArmor 4 mediates user namespaces on every kernel that has it). For
// the embedded engine the probe, run by this very process, decides; for the external one the
// profiles in /etc/apparmor.d do.
func checkAppArmor(r *resolver) error {
	h, p := r.h, r.p
	restricted := restrictedUserNS(h)
	if !restricted && !apparmorEnabled(h) {
		return nil
	}
	bin := namespaceBinary(p)
	if bin == "" || p.Engine != EngineEmbedded && p.Engine != EngineExternal {
		return nil
	}
	label := apparmorLabel(h)
	state := "kernel.apparmor_restrict_unprivileged_userns = 0"
	if restricted {
		state = "kernel.apparmor_restrict_unprivileged_userns = 1"
	} else if _, ok := sysctl(h, "kernel.apparmor_restrict_unprivileged_userns"); !ok {
		state = "no kernel.apparmor_restrict_unprivileged_userns"
	}
	if p.Engine == EngineEmbedded {
		probe := r.doc.probes.usernsResult()
		denied := lsmDenied(h, probe)
		if probe.ran && !probe.failed() {
			if restricted {
				return &diag.Finding{ID: IDAppArmorProfile, Severity: diag.Info, Evidence: state + "; this process: " + label,
					Detail: "AppArmor restricts unprivileged user namespaces to profiled programs, and this program (" + bin + ") may create them"}
			}
			return nil
		}
		if !denied && (probe.ran || !restricted) {
			return nil // another failure (checkUserns), or nothing to go by
		}
		ev := state + "; this process: " + label
		if probe.ran {
			ev += fmt.Sprintf("; probe %q: %s", probe.argv, probe.firstLine())
		}
		f := apparmorFinding(h, bin, restricted, ev, "the embedded engine re-runs this executable to create RootlessKit's namespaces")
		if f != nil && p.Fallback != nil && apparmorAllows(h, p.Fallback.Path, restricted) {
			f.Severity = diag.Warning
			f.Detail += "; Launch falls back to " + p.Fallback.Path + ", whose profile allows it (rootless.EngineAuto), until this program has its own"
		}
		if f == nil {
			return nil
		}
		return f
	}
	if apparmorAllows(h, bin, restricted) {
		if restricted {
			prof := profilesFor(h, bin)
			return &diag.Finding{ID: IDAppArmorProfile, Severity: diag.Info, Evidence: state + "; " + prof[0].at(),
				Detail: "AppArmor restricts unprivileged user namespaces to profiled programs, and profile " + prof[0].name + " grants " + bin + " userns"}
		}
		return nil
	}
	f := apparmorFinding(h, bin, restricted, state, "the external engine runs it to create the namespaces")
	if f == nil {
		return nil
	}
	return f
}

// lsmDenied reports a probe that a security module stopped: the user namespace was refused
// with EACCES, or, under Ubuntu's restriction, which lets an unprofiled program create the
// namespace and takes every capability in it away, its program failed with "permission
// denied". Such a probe says nothing about what the namespace would allow a program that may
// create it.
func lsmDenied(h *host, probe probeResult) bool {
	if !probe.failed() {
		return false
	}
	if errno, ok := probe.cloneErrno(); ok {
		return errno == syscall.EACCES
	}
	return restrictedUserNS(h) && strings.Contains(strings.ToLower(string(probe.out)), "permission denied")
}

// apparmorAllows reports whether AppArmor lets bin create user namespaces, from its profiles:
// under the restriction it needs one that grants userns; otherwise any profile that confines
// it in enforce mode without userns denies it (if the kernel mediates user namespaces).
func apparmorAllows(h *host, bin string, restricted bool) bool {
	profs := profilesFor(h, bin)
	if len(profs) == 0 {
		return !restricted
	}
	p := profs[0]
	if p.grantsUserns() {
		return true
	}
	if restricted {
		return false
	}
	if _, err := h.net.Stat("/sys/kernel/security/apparmor/features/namespaces/userns_create"); err != nil {
		return true // this kernel does not mediate user namespaces
	}
	for _, f := range p.flags {
		if f == "unconfined" || f == "complain" {
			return true
		}
	}
	return false
}

// apparmorFinding explains why bin may not create a user namespace, with the fix for that
// exact path: the profile to add, or the rule to add to the profile that confines it.
func apparmorFinding(h *host, bin string, restricted bool, ev, role string) *diag.Finding {
	profs := profilesFor(h, bin)
	if len(profs) > 0 && !profs[0].grantsUserns() {
		p := profs[0]
		return &diag.Finding{ID: IDAppArmorDeniesUserns, Severity: diag.Error, Evidence: ev + "; " + p.at(),
			Detail: fmt.Sprintf("AppArmor profile %s (%s) confines %s without a `userns,` rule, so it may not create user namespaces: RootlessKit fails with \"fork/exec /proc/self/exe: permission denied\" (%s)", p.name, p.at(), bin, role),
			Fix:    addUsernsFix(p) + "\n# or replace that profile with this one:\n" + profileFix(bin)}
	}
	if restricted {
		return &diag.Finding{ID: IDAppArmorNoProfile, Severity: diag.Error, Evidence: ev + "; no profile in /etc/apparmor.d attaches to " + bin,
			Detail: fmt.Sprintf("AppArmor lets only profiled programs create user namespaces (Ubuntu >= 24.04), and no profile grants %s `userns,`: RootlessKit fails with \"fork/exec /proc/self/exe: permission denied\" (%s)", bin, role),
			Fix:    profileFix(bin)}
	}
	return &diag.Finding{ID: IDAppArmorDeniesUserns, Severity: diag.Error, Evidence: ev,
		Detail: fmt.Sprintf("AppArmor denies %s user namespaces (its confinement has no `userns,` rule): RootlessKit fails with \"fork/exec /proc/self/exe: permission denied\" (%s)", bin, role),
		Fix:    profileFix(bin) + "\n# if a profile of the program that starts this one confines it, add `userns,` there instead (sudo aa-status names it)"}
}

// checkNoNewPrivs refuses a process with no_new_privs: newuidmap and newgidmap get their
// power from setuid or file capabilities, which it disables.
func checkNoNewPrivs(h *host) error {
	b, err := h.net.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "NoNewPrivs:"); ok && strings.TrimSpace(v) == "1" {
			return problem(IDNoNewPrivs,
				"this process runs with no_new_privs, which stops setuid newuidmap and newgidmap from gaining the privilege to write the maps: RootlessKit fails with \"newuidmap: write to uid_map failed: Operation not permitted\"",
				"/proc/self/status: NoNewPrivs: 1",
				"start this program without no_new_privs: not under setpriv --no-new-privs, not in a systemd unit with NoNewPrivileges=yes (remove it), not in a container run with --security-opt no-new-privileges")
		}
	}
	return nil
}

// checkNested notes a process that already runs inside a user namespace.
func checkNested(h *host) error {
	ns, err := h.namespace()
	if err != nil || !ns.InUserNS {
		return nil
	}
	return &diag.Finding{ID: IDNestedUserns, Severity: diag.Info, Evidence: "/proc/self/uid_map: " + ns.UID.String(),
		Detail: "this process runs inside a user namespace (a container, or another rootless engine): RootlessKit's namespace nests in it and can use only the ids mapped here; newuidmap must work inside it (an outer container needs --privileged)"}
}

// checkKernelConfig reads the kernel's build configuration where the host has it
// (/proc/config.gz, /boot/config-RELEASE): user namespaces are required, overlayfs is what
// overlay2 needs.
func checkKernelConfig(r *resolver) error {
	cfg, src := kernelConfig(r.h, r.doc.kernel.release)
	if cfg == nil {
		return nil
	}
	var errs []error
	if v, ok := cfg["CONFIG_USER_NS"]; ok && v == "n" {
		errs = append(errs, problem(IDKernelNoUserns, "the kernel is built without user namespaces: rootless mode cannot work", src+": # CONFIG_USER_NS is not set",
			"boot a kernel built with CONFIG_USER_NS=y (every distribution kernel is)"))
	}
	if v, ok := cfg["CONFIG_OVERLAY_FS"]; ok && v == "n" {
		errs = append(errs, warning(IDKernelNoOverlay, "the kernel is built without overlayfs: dockerd cannot use overlay2 and falls back to fuse-overlayfs or vfs", src+": # CONFIG_OVERLAY_FS is not set",
			"boot a kernel with CONFIG_OVERLAY_FS, or install fuse-overlayfs: "+r.doc.distro.install(pkgFuseOverlay)))
	}
	return errors.Join(errs...)
}

// kernelConfig reads the options that matter from the kernel's configuration: "y", "m", or
// "n" for "is not set"; nil if the host has no configuration file.
func kernelConfig(h *host, release string) (map[string]string, string) {
	type answer struct {
		cfg map[string]string
		src string
	}
	key := "kconfig\x00" + release // the running kernel's configuration does not change
	if h.probeCache != nil && release != "" {
		if v, ok := h.probeCache.Load(key); ok {
			a := v.(answer)
			return a.cfg, a.src
		}
	}
	cfg, src := readKernelConfig(h, release)
	if h.probeCache != nil && release != "" {
		h.probeCache.Store(key, answer{cfg, src})
	}
	return cfg, src
}

func readKernelConfig(h *host, release string) (map[string]string, string) {
	var data []byte
	var src string
	if b, err := h.net.ReadFile("/proc/config.gz"); err == nil {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if d, err := io.ReadAll(io.LimitReader(zr, 16<<20)); err == nil {
				data, src = d, "/proc/config.gz"
			}
		}
	}
	if data == nil && release != "" {
		if b, err := h.net.ReadFile("/boot/config-" + release); err == nil {
			data, src = b, "/boot/config-"+release
		}
	}
	if data == nil {
		return nil, ""
	}
	want := map[string]bool{"CONFIG_USER_NS": true, "CONFIG_OVERLAY_FS": true}
	out := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && want[k] {
			out[k] = v
		} else if k, ok := strings.CutPrefix(line, "# "); ok {
			if k, ok := strings.CutSuffix(k, " is not set"); ok && want[k] {
				out[k] = "n"
			}
		}
	}
	return out, src
}

// checkIptablesProbe reads the iptables probes: dockerd's first iptables calls, run as root of
// a new user and network namespace, as dockerd runs them inside RootlessKit's. This replaces
// the /proc/modules lookup of dockerd-rootless-setuptool.sh, which fails on kernels with the
// modules built in although iptables works.
func checkIptablesProbe(r *resolver) error {
	pr := r.doc.probes
	pr.wait()
	if pr.iptables == "" {
		return nil
	}
	var bad probeResult
	table := ""
	for _, t := range []struct {
		name string
		res  probeResult
	}{{"nat", pr.nat}, {"filter", pr.filter}} {
		if t.res.failed() {
			bad, table = t.res, t.name
			break
		}
	}
	if !bad.ran {
		return nil
	}
	if _, ok := bad.cloneErrno(); ok || lsmDenied(r.h, bad) {
		return nil // no (working) user namespace for this process: checkUserns and checkAppArmor say why
	}
	if r.ctx.Err() != nil {
		return nil
	}
	out := string(bad.out)
	ev := fmt.Sprintf("%s (in a new user and network namespace): %s", bad.argv, bad.firstLine())
	prog := filepath.Base(pr.iptables)
	for _, s := range []string{"Table does not exist", "do you need to insmod", "can't initialize iptables table",
		"Protocol not supported", "Failed to initialize nft", "Could not fetch rule set generation id", "Operation not supported",
		"Could not process rule: No such file or directory"} {
		if strings.Contains(out, s) {
			return problem(IDKernelModuleMissing,
				fmt.Sprintf("%s cannot use the %s table inside a user namespace: the kernel lacks a module that only root can load, so dockerd fails at start (\"failed to create NAT chain DOCKER\")", prog, table),
				ev, r.moduleFix(pr))
		}
	}
	return problem(IDIptablesUnusable,
		fmt.Sprintf("%s fails inside a user and network namespace, where dockerd runs it at start: %s", prog, bad.firstLine()), ev,
		`make it work for root in a network namespace (see its message), or run dockerd without it: WithDockerdArgs("--iptables=false") (published ports and outbound traffic of user-defined networks then need set-up by hand)`)
}

// moduleFix is how this distribution loads the netfilter modules iptables needs.
func (r *resolver) moduleFix(pr *probes) string {
	nft := pr.nft
	if !nft {
		if out, err := r.h.net.Output(r.ctx, pr.iptables, "--version"); err == nil {
			nft = strings.Contains(string(out), "nf_tables")
		}
	}
	d := r.doc.distro
	persist := " (and list them in /etc/modules-load.d/rootless-docker.conf to load them at boot)"
	suse := "sudo modprobe ip_tables iptable_mangle iptable_nat iptable_filter" + persist
	fedora := "sudo dnf install -y iptables-nft && sudo modprobe nf_tables nft_chain_nat nft_compat" + persist
	if !nft {
		fedora = "RHEL 10 and Fedora ship no legacy iptables modules: use the nftables one: sudo dnf install -y iptables-nft && sudo alternatives --set iptables /usr/sbin/iptables-nft"
	}
	generic := d.modprobe(nft)
	switch d.Family {
	case FamilySUSE:
		return suse
	case FamilyFedora:
		return fedora
	case FamilyDebian, FamilyArch:
		return generic
	}
	return generic + "; openSUSE/SLES: " + suse + "; Fedora/RHEL: " + fedora
}

// checkRuntimeDir checks XDG_RUNTIME_DIR where the state directory derives from it: set, the
// user's own, 0700, and not inside a directory everyone can write to (/tmp), as Docker's
// documentation requires. It reports whether it found an error-level problem, which then
// stands for the state directory's too.
func checkRuntimeDir(r *resolver) error {
	c, h := r.c, r.h
	if c.stateDir != "" {
		return nil
	}
	x := envLookup(c.environ)("XDG_RUNTIME_DIR")
	login := fmt.Sprintf("log in through a pam_systemd session (ssh %s@localhost, machinectl shell %s@, or the console), not sudo -iu or su", orElse(h.user, "USER"), orElse(h.user, "USER"))
	if !filepath.IsAbs(x) {
		base := fmt.Sprintf("/run/user/%d", h.uid)
		if _, _, err := h.dir(base); err != nil {
			return nil // IDRuntimeDirMissing, from the layout
		}
		return &diag.Finding{ID: IDRuntimeDirUnset, Severity: diag.Info, Evidence: "XDG_RUNTIME_DIR=" + x,
			Detail: fmt.Sprintf("XDG_RUNTIME_DIR is not set (su, sudo -iu, cron and CI agents set none), so the state directory goes to %s; the docker CLI, systemctl --user and dockerd-rootless.sh need it set", base),
			Fix:    fmt.Sprintf("export XDG_RUNTIME_DIR=%s, or %s", base, login)}
	}
	uid, mode, err := h.dir(x)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if d := probeDir(h, x); d != "" {
				return nil // Launch creates it, 0700
			}
			return because(problem(IDRuntimeDirMissing,
				fmt.Sprintf("XDG_RUNTIME_DIR (%s) does not exist, and its parent is not yours to create it in: systemd-logind makes /run/user/%d only for a login session", x, h.uid),
				"XDG_RUNTIME_DIR="+x, fmt.Sprintf("%s; or: export XDG_RUNTIME_DIR=$HOME/.docker/run && mkdir -p -m 700 $XDG_RUNTIME_DIR (remove it at logout)", login)), err)
		}
		return nil
	}
	if uid != h.uid {
		return problem(IDRuntimeDirOwner,
			fmt.Sprintf("XDG_RUNTIME_DIR (%s) belongs to uid %d, not to you (%d): su and sudo keep the caller's; the state directory cannot be created in it", x, uid, h.uid),
			fmt.Sprintf("%s is owned by uid %d", x, uid),
			fmt.Sprintf("export XDG_RUNTIME_DIR=/run/user/%d (if it exists), or %s; or pass rootless.WithStateDir", h.uid, login))
	}
	for a := parentDir(x); ; a = parentDir(a) {
		if _, m, err := h.dir(a); err == nil && m&0o002 != 0 {
			return problem(IDRuntimeDirUnsafe,
				fmt.Sprintf("XDG_RUNTIME_DIR (%s) is inside %s, which every user can write to: another user can create or replace the daemon's directory first (TOCTOU); Docker's documentation forbids a runtime dir in /tmp", x, a),
				fmt.Sprintf("%s has mode %04o", a, m&0o7777),
				fmt.Sprintf("export XDG_RUNTIME_DIR=/run/user/%d (%s), or a private directory: export XDG_RUNTIME_DIR=$HOME/.docker/run && mkdir -p -m 700 $XDG_RUNTIME_DIR", h.uid, login))
		}
		if a == "/" {
			break
		}
	}
	if mode&0o077 != 0 {
		return warning(IDRuntimeDirMode,
			fmt.Sprintf("XDG_RUNTIME_DIR (%s) has mode %04o; the XDG specification requires 0700 (the daemon's own directory inside it is 0700 all the same)", x, mode&0o7777),
			fmt.Sprintf("%s has mode %04o", x, mode&0o7777), "chmod 0700 "+x)
	}
	return nil
}

// checkConflicts looks for other daemons: a rootful one on /var/run/docker.sock, nerdctl's
// containerd-rootless.sh in the same runtime directory, and a daemon on this plan's socket or
// data root.
func checkConflicts(r *resolver) error {
	h, p := r.h, r.p
	var errs []error
	const rootful = "/var/run/docker.sock"
	if isSocket(h, rootful) {
		switch err := h.dial(rootful); {
		case err == nil:
			errs = append(errs, warning(IDRootfulDaemon,
				"a rootful Docker daemon listens on "+rootful+", and you may use it: clients that are not given DOCKER_HOST (the docker CLI's default context, Testcontainers, IDE plugins) talk to it, not to the rootless daemon",
				rootful+": a socket that accepts connections",
				"disable it, as Docker's documentation advises: sudo systemctl disable --now docker.service docker.socket; or keep it and give every client the rootless daemon's environment (Plan.Env: DOCKER_HOST=unix://"+p.Paths.Socket+")"))
		case errors.Is(err, syscall.EACCES) || errors.Is(err, fs.ErrPermission):
			errs = append(errs, &diag.Finding{ID: IDRootfulDaemon, Severity: diag.Info, Evidence: rootful + ": " + err.Error(),
				Detail: "a rootful Docker daemon's socket exists at " + rootful + " (not accessible to you): clients without DOCKER_HOST fail with \"permission denied while trying to connect to the Docker daemon socket\"",
				Fix:    "give clients the rootless daemon's environment (Plan.Env: DOCKER_HOST=unix://" + p.Paths.Socket + "), or: sudo systemctl disable --now docker.service docker.socket"})
		}
	}
	env := envLookup(r.c.environ)
	if xdg := env("XDG_RUNTIME_DIR"); filepath.IsAbs(xdg) {
		dir := env("CONTAINERD_ROOTLESS_ROOTLESSKIT_STATE_DIR")
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(xdg, "containerd-rootless")
		}
		if _, _, err := h.dir(dir); err == nil {
			meets := p.Paths.RootlessKitStateDir == dir || p.Paths.StateDir == dir || p.Paths.ExecRoot == xdg
			f := &diag.Finding{ID: IDContainerdRootless, Severity: diag.Info, Evidence: dir + " exists",
				Detail: "nerdctl's containerd-rootless.sh keeps its state in " + dir + ": Docker's dockerd-rootless.sh (29.4 and later) refuses to start next to it, because its dockerd would share XDG_RUNTIME_DIR's containerd paths; this daemon's dockerd gets its exec root (" + p.Paths.ExecRoot + ") as XDG_RUNTIME_DIR, so the two do not meet",
				Fix:    "nothing is needed for this daemon; for dockerd-rootless.sh: stop containerd-rootless.sh and remove " + dir}
			if meets {
				f.Severity = diag.Error
				f.Detail = "nerdctl's containerd-rootless.sh keeps its state in " + dir + ", and this daemon's paths meet it (state dir " + p.Paths.StateDir + ", RootlessKit state dir " + p.Paths.RootlessKitStateDir + ", exec root " + p.Paths.ExecRoot + "): the two engines would take over each other's sockets and state"
				f.Fix = "give this daemon paths of its own (the default WithStateDir, and no WithExecRoot(XDG_RUNTIME_DIR)), or stop containerd-rootless.sh and remove " + dir
			}
			errs = append(errs, f)
		}
	}
	if settled(h, p, func() bool { return isSocket(h, p.Paths.Socket) && h.dial(p.Paths.Socket) == nil }) {
		errs = append(errs, because(problem(IDSocketInUse,
			"a daemon already listens on "+p.Paths.Socket+", the socket this one would bind",
			p.Paths.Socket+": a socket that accepts connections",
			"stop that daemon (this program's: Daemon.Close; dockerd-rootless.sh's: systemctl --user stop docker), or choose another state directory (WithStateDir) or socket (WithSocket)"), ErrAlreadyRunning))
	}
	var inUse *diag.Finding
	if settled(h, p, func() bool { inUse = dataRootInUse(h, p.Paths.DataRoot); return inUse != nil }) {
		errs = append(errs, inUse)
	}
	return errors.Join(errs...)
}

// settled reports whether busy (a daemon on the plan's socket or data root) still holds once a
// daemon of ours that was just killed has had time to go: right after a SIGKILL of its host
// program its lock is gone at once, but its tree takes a moment to die. A live daemon of ours
// (it holds the state directory's lock) is reported at once, as is everything on hosts that
// cannot tell (fixtures).
func settled(h *host, p *Plan, busy func() bool) bool {
	if !busy() {
		return false
	}
	if h.settle <= 0 || h.locked == nil || h.locked(filepath.Join(p.Paths.StateDir, lockFile)) {
		return true
	}
	for deadline := time.Now().Add(h.settle); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if !busy() {
			return false
		}
	}
	return true
}

func isSocket(h *host, p string) bool {
	fi, err := h.net.Stat(p)
	return err == nil && fi.Mode()&fs.ModeSocket != 0
}

// lockedFiles are files in a data root that a running daemon holds a lock on: rootlessd's own
// lock, and the bolt databases of dockerd (volumes, networks), its containerd and BuildKit.
var lockedFiles = []string{dataLockFile, "volumes/metadata.db", "network/files/local-kv.db",
	"containerd/daemon/io.containerd.metadata.v1.bolt/meta.db", "buildkit/metadata_v2.db"}

// dataRootInUse finds a process that holds a lock on a file of the data root, from
// /proc/locks: another daemon uses it. A lock of this very process is not another daemon:
// EngineAuto's fallback resolves again while its Launch holds the data root's lock (a second
// daemon of this process on the same data root is refused by that lock itself).
func dataRootInUse(h *host, dataRoot string) *diag.Finding {
	if h.fileID == nil {
		return nil
	}
	type file struct {
		path string
		dev  string
		ino  uint64
	}
	var files []file
	for _, name := range lockedFiles {
		p := filepath.Join(dataRoot, name)
		if dev, ino, err := h.fileID(p); err == nil {
			files = append(files, file{p, dev, ino})
		}
	}
	if h.fileLocked != nil {
		// /proc/locks is slow to read (see fileLocked): it is asked only about files that
		// are locked, and says by whom (this process's own locks are not another daemon's).
		files = slices.DeleteFunc(files, func(f file) bool { return !h.fileLocked(f.path) })
	}
	if len(files) == 0 {
		return nil
	}
	b, err := h.net.ReadFile("/proc/locks")
	if err != nil {
		return nil
	}
	for line := range strings.Lines(string(b)) {
		// 1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF
		f := strings.Fields(line)
		if len(f) < 6 || f[1] == "->" {
			continue
		}
		i := strings.LastIndexByte(f[5], ':')
		if i < 0 {
			continue
		}
		dev, ino := f[5][:i], f[5][i+1:]
		for _, fl := range files {
			if dev == fl.dev && ino == strconv.FormatUint(fl.ino, 10) && (h.pid == 0 || f[4] != strconv.Itoa(h.pid)) {
				pid := f[4]
				who := "process " + pid
				if comm, err := h.net.ReadFile("/proc/" + pid + "/comm"); err == nil {
					who += " (" + strings.TrimSpace(string(comm)) + ")"
				}
				return because(problem(IDDataRootInUse,
					fmt.Sprintf("%s holds a lock on %s: another daemon uses the data root %s, and two dockerd on one data root corrupt it", who, fl.path, dataRoot),
					"/proc/locks: "+strings.TrimSpace(line),
					"stop that daemon (dockerd-rootless.sh's: systemctl --user stop docker), or give this one its own data root (WithDataRoot)"), ErrAlreadyRunning)
			}
		}
	}
	return nil
}

// checkPorts reports the lowest port that can be published, for the program that really binds
// the published ports (the plan's binder): net.ipv4.ip_unprivileged_port_start, unless it has
// CAP_NET_BIND_SERVICE.
func checkPorts(r *resolver) error {
	h, p := r.h, r.p
	v, ok := sysctl(h, "net.ipv4.ip_unprivileged_port_start")
	if !ok || v == "0" {
		return nil
	}
	binder, port := p.binder, ""
	if p.Port != nil {
		port = p.Port.Name()
	} else if binder == "" && (p.Engine == EngineEmbedded || p.Engine == EngineExternal) {
		// the drivers were not chosen: the default, builtin, binds in RootlessKit's parent
		binder, port = namespaceBinary(p), portdriver.NameBuiltin
	}
	if binder != "" && portdriver.CheckPrivileged(r.ctx, h.net, 1, binder) == nil {
		return &diag.Finding{ID: IDPrivilegedPorts, Severity: diag.Info, Evidence: "net.ipv4.ip_unprivileged_port_start = " + v + "; " + binder + ": cap_net_bind_service=ep",
			Detail: "ports below " + v + " can be published: " + binder + ", which binds them, has CAP_NET_BIND_SERVICE"}
	}
	setcap := "sudo setcap cap_net_bind_service=ep " + orElse(binder, "<the program that binds the ports>")
	who := "the program that binds them"
	if binder != "" {
		who = binder + ", which binds them for the " + port + " port driver,"
	}
	return warning(IDPrivilegedPorts,
		fmt.Sprintf("ports below %s cannot be published (docker run -p 80:80 fails with \"cannot expose privileged port 80\"): %s lacks CAP_NET_BIND_SERVICE", v, who),
		"net.ipv4.ip_unprivileged_port_start = "+v,
		fmt.Sprintf("publish ports >= %s; or %s (and again after every rebuild of it); or, host-wide for every user: echo 'net.ipv4.ip_unprivileged_port_start=0' | sudo tee /etc/sysctl.d/53-rootless-ports.conf && sudo sysctl --system", v, setcap))
}

// checkPing reports a ping_group_range that leaves containers without ping: their root is
// this user, whose gid must be in the range.
func checkPing(h *host) error {
	v, ok := sysctl(h, "net.ipv4.ping_group_range")
	if !ok {
		return nil
	}
	f := strings.Fields(v)
	if len(f) != 2 {
		return nil
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo <= h.gid && h.gid <= hi {
		return nil
	}
	return warning(IDPingDisabled,
		fmt.Sprintf("ping in containers fails with \"ping: permission denied (are you root?)\": net.ipv4.ping_group_range (%s %s) does not hold your gid %d, which containers' root maps to", f[0], f[1], h.gid),
		"net.ipv4.ping_group_range = "+strings.Join(f, " "),
		"echo 'net.ipv4.ping_group_range = 0 2147483647' | sudo tee /etc/sysctl.d/52-rootless-ping.conf && sudo sysctl --system")
}

// checkDNS looks at the host's resolvers. Loopback ones (systemd-resolved's 127.0.0.53) are
// unreachable from inside the namespace; RootlessKit points the namespace at the network
// driver's DNS forwarder instead, which asks them from the host. slirp4netns's sandbox keeps
// only /etc and /run, so a resolv.conf that links elsewhere (NixOS) is lost there.
func checkDNS(r *resolver) error {
	h, p := r.h, r.p
	b, err := h.net.ReadFile("/etc/resolv.conf")
	if err != nil || p.Network == nil {
		return nil
	}
	var servers []string
	loopback := true
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			servers = append(servers, f[1])
			if a, err := netip.ParseAddr(f[1]); err != nil || !a.IsLoopback() {
				loopback = false
			}
		}
	}
	if len(servers) == 0 || !loopback {
		return nil
	}
	ev := "/etc/resolv.conf: nameserver " + strings.Join(servers, ", ")
	if s, ok := p.Network.(netdriver.Slirp4netns); ok && s.Sandbox == netdriver.True {
		if target, err := fs.ReadLink(h.net.FS, "etc/resolv.conf"); err == nil {
			abs := target
			if !filepath.IsAbs(abs) {
				abs = filepath.Join("/etc", target)
			}
			if !strings.HasPrefix(abs, "/etc/") && !strings.HasPrefix(abs, "/run/") {
				return warning(IDDNSLoopback,
					"/etc/resolv.conf links to "+abs+", outside /etc and /run, which slirp4netns's sandbox keeps: DNS fails inside containers",
					ev+"; /etc/resolv.conf -> "+target,
					"turn the sandbox off (netdriver.Slirp4netns{Sandbox: netdriver.False}), or make /etc/resolv.conf a file or a link into /run")
			}
		}
	}
	return &diag.Finding{ID: IDDNSLoopback, Severity: diag.Info, Evidence: ev,
		Detail: "the host's resolvers are loopback only (systemd-resolved's stub), which the namespace cannot reach itself; RootlessKit points it at " + p.Network.Name() + "'s DNS forwarder, which asks them from the host"}
}
