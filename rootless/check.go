package rootless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/netdriver"
)

// Check inspects the host for a daemon with the given options, without starting or changing
// anything, and returns every problem at once: errors.Join of *PrereqError values, warnings
// included (PrereqError.Warning). A nil result means Launch has what it needs. Option errors
// are returned as they would be by Launch.
//
//	if err := rootless.Check(ctx); err != nil {
//		for _, pe := range rootless.Problems(err) {
//			fmt.Printf("%s: %s\n  fix: %s\n", pe.Check, pe.Detail, pe.Remedy)
//		}
//	}
func Check(ctx context.Context, opts ...Option) error {
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	p, err := resolve(ctx, c)
	errs := []error{err}
	if p != nil {
		for _, w := range p.warnings {
			errs = append(errs, w)
		}
	}
	return errors.Join(errs...)
}

// Problems lists the *PrereqError values in err, blocking ones first.
func Problems(err error) []*PrereqError {
	ps := prereqs(err)
	slices.SortStableFunc(ps, func(a, b *PrereqError) int {
		switch {
		case a.Warning == b.Warning:
			return 0
		case b.Warning:
			return -1
		}
		return 1
	})
	return ps
}

// checkHost runs the host checks that depend on neither the dockerd binary nor the drivers;
// resolve runs it concurrently with their probes.
func checkHost(ctx context.Context, p *plan) error {
	h := p.host
	errs := []error{checkUserNS(h), checkSubids(ctx, p), checkHelpers(), checkCgroups(ctx, p.uid, p.c.environ),
		checkIptables(p), checkSysctlWarnings(h)}
	if _, err := lookPath("nsenter", nil, p.pathEnv); err != nil {
		errs = append(errs, &PrereqError{Check: "binary:nsenter", Warning: true,
			Detail: "nsenter not found: Daemon.Command cannot enter the daemon's namespaces", Remedy: "install util-linux"})
	}
	return errors.Join(errs...)
}

// checkChoices runs the checks that depend on the chosen dockerd and drivers.
func checkChoices(p *plan) error {
	errs := []error{checkTun(p.net), checkMTU(p.host, p)}
	if !p.dockerd.PortsViaAPI && p.port.Name() != "none" {
		path, err := lookPath("rootlesskit-docker-proxy", nil, p.pathEnv)
		if err != nil {
			errs = append(errs, &PrereqError{Check: "binary:rootlesskit-docker-proxy",
				Detail: fmt.Sprintf("dockerd %s (< 28) publishes `docker run -p` ports through rootlesskit-docker-proxy, which is not in %s", p.dockerd.Version, p.pathEnv),
				Remedy: "install it (Debian/Ubuntu: apt-get install rootlesskit), put its directory in Binaries.Path, or use Docker >= 28", Err: err})
		} else if p.port.Name() == "implicit" {
			// Before RootlessKit 2.0 the proxy fails without a port API ("no port driver is
			// available"); 2.0 hands such ports to docker-proxy, and its binary says "implicit".
			if found, serr := scanFile(path, []byte("implicit")); serr == nil && !found[0] {
				errs = append(errs, &PrereqError{Check: "binary:rootlesskit-docker-proxy",
					Detail: fmt.Sprintf("dockerd %s (< 28) publishes `docker run -p` ports through %s, which predates RootlessKit 2.0 and fails with port driver implicit (\"no port driver is available\")", p.dockerd.Version, path),
					Remedy: "use port driver pesto or builtin with pasta, install rootlesskit-docker-proxy from RootlessKit 2.0 or later, or use Docker >= 28"})
			}
		}
	}
	return errors.Join(errs...)
}

// checkStateDirSafety is the read-only part of checkPrivateDir, for Check.
func checkStateDirSafety(dir string, uid int) error {
	for a := dir; ; a = parentDir(a) {
		var st unix.Stat_t
		err := unix.Stat(a, &st)
		switch {
		case err == nil && a == dir:
			if int(st.Uid) != uid {
				return &PrereqError{Check: "state-dir", Detail: fmt.Sprintf("%s is owned by uid %d, not by you (%d)", dir, st.Uid, uid),
					Remedy: "use a directory you own (WithStateDir)"}
			}
			if st.Mode&0o077 != 0 {
				return &PrereqError{Check: "state-dir", Detail: fmt.Sprintf("%s has mode %04o: other users can reach the daemon's sockets", dir, st.Mode&0o7777),
					Remedy: fmt.Sprintf("run: chmod 0700 %s", dir)}
			}
		case err == nil && st.Mode&0o002 != 0:
			return &PrereqError{Check: "state-dir",
				Detail: fmt.Sprintf("%s is inside %s, which every user can write to: another user could create or replace it first", dir, a),
				Remedy: "use a private directory such as $XDG_RUNTIME_DIR (/run/user/UID) or one under your home directory"}
		}
		if a == "/" {
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

// checkUserNS covers the kernel switches for unprivileged user namespaces.
func checkUserNS(h *netdriver.Host) error {
	var errs []error
	if v, err := h.Sysctl("kernel.unprivileged_userns_clone"); err == nil && strings.TrimSpace(v) != "1" {
		errs = append(errs, &PrereqError{Check: "userns-clone",
			Detail: "kernel.unprivileged_userns_clone is " + strings.TrimSpace(v) + ": unprivileged users cannot create user namespaces (RootlessKit fails with \"fork/exec /proc/self/exe: operation not permitted\")",
			Remedy: "echo 'kernel.unprivileged_userns_clone=1' | sudo tee /etc/sysctl.d/50-rootless.conf && sudo sysctl --system"})
	}
	if v, err := h.Sysctl("user.max_user_namespaces"); err == nil {
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		if n == 0 {
			errs = append(errs, &PrereqError{Check: "max-user-namespaces",
				Detail: "user.max_user_namespaces is 0 (RootlessKit fails with \"fork/exec /proc/self/exe: no space left on device\")",
				Remedy: "echo 'user.max_user_namespaces=28633' | sudo tee /etc/sysctl.d/51-rootless.conf && sudo sysctl --system"})
		}
	}
	return errors.Join(errs...)
}

// restrictedUserNS reports Ubuntu's AppArmor restriction of unprivileged user namespaces.
func restrictedUserNS(h *netdriver.Host) bool {
	v, err := h.Sysctl("kernel.apparmor_restrict_unprivileged_userns")
	return err == nil && strings.TrimSpace(v) == "1"
}

// deniedUserNS reports the log of an engine that was denied a user namespace by AppArmor.
func deniedUserNS(lines []string) bool {
	return slices.ContainsFunc(lines, func(l string) bool {
		return strings.Contains(l, "fork/exec /proc/self/exe: permission denied")
	})
}

// checkSubids looks up and validates the user's subordinate ids the way RootlessKit reads them.
func checkSubids(ctx context.Context, p *plan) error {
	u, err := idmap.CurrentUser()
	if err != nil {
		return &PrereqError{Check: "user", Detail: err.Error(), Remedy: "give this uid a passwd entry", Err: err}
	}
	var src idmap.Source = idmap.Auto{}
	switch p.c.subidSource {
	case "static":
		src = idmap.Files{}
	case "dynamic":
		src = idmap.Getsubids{}
	}
	s, err := idmap.Lookup(ctx, src, u) // s is never nil; Validate repeats err's findings
	if ctx.Err() != nil {
		return err
	}
	ns, _ := idmap.CurrentNamespace()
	var errs []error
	for _, f := range idmap.Validate(s, ns) {
		if f.Severity == idmap.Info {
			continue
		}
		errs = append(errs, &PrereqError{Check: f.ID, Detail: f.Detail, Remedy: f.Fix, Warning: f.Severity != idmap.Error, Err: f})
	}
	return errors.Join(errs...)
}

// checkHelpers checks that newuidmap and newgidmap can write maps.
func checkHelpers() error {
	var errs []error
	for _, name := range []string{"newuidmap", "newgidmap"} {
		h, err := idmap.FindHelper(name)
		switch {
		case err != nil || h.Path == "":
			errs = append(errs, &PrereqError{Check: name, Detail: name + " is not installed: RootlessKit needs it to map more than one id",
				Remedy: "sudo apt-get install -y uidmap (Fedora, RHEL: sudo dnf install -y shadow-utils)", Err: err})
		case !h.Usable():
			why := "is neither setuid root nor has file capabilities"
			if h.NoSuid {
				why = "is on a file system mounted nosuid"
			}
			errs = append(errs, &PrereqError{Check: name, Detail: h.Path + " " + why + ": it cannot write the id map",
				Remedy: "sudo apt-get install --reinstall uidmap (or: sudo chmod u+s " + h.Path + ")"})
		}
	}
	return errors.Join(errs...)
}

// checkCgroups reports what cgroup delegation allows: without it, --cpus, --memory and
// --pids-limit are ignored.
func checkCgroups(ctx context.Context, uid int, environ []string) error {
	sys := cgroupdeleg.Host()
	sys.Getenv = envLookup(environ)
	r, err := cgroupdeleg.Detect(ctx, sys, uid)
	if err != nil {
		return &PrereqError{Check: "cgroup", Warning: true, Detail: err.Error(), Remedy: "see https://rootlesscontaine.rs/getting-started/common/cgroup2/", Err: err}
	}
	var errs []error
	for _, f := range r.Findings {
		if f.Severity == cgroupdeleg.Info {
			continue
		}
		errs = append(errs, &PrereqError{Check: "cgroup:" + string(f.ID), Detail: f.Detail, Remedy: f.Fix, Warning: f.Severity != cgroupdeleg.Error, Err: &f})
	}
	return errors.Join(errs...)
}

// checkIptables checks the iptables dockerd runs (unless --iptables=false), and its kernel
// module where modules exist: a kernel without /proc/modules has them built in, which is where
// dockerd-rootless-setuptool.sh reports a false error.
func checkIptables(p *plan) error {
	if iptablesOff(p.c.dockerdArgs, p.layout.DaemonConfig) {
		return nil
	}
	path, err := lookPath("iptables", nil, p.pathEnv)
	if err != nil {
		return &PrereqError{Check: "binary:iptables", Detail: "iptables not found: dockerd sets up container networking with it",
			Remedy: `sudo apt-get install -y iptables (Fedora: sudo dnf install -y iptables), or WithDockerdArgs("--iptables=false")`, Err: err}
	}
	mods, err := os.ReadFile("/proc/modules")
	if err != nil {
		return nil // built-in modules only
	}
	module := "nf_tables"
	if out, err := p.host.Output(context.Background(), path, "--version"); err == nil && strings.Contains(string(out), "legacy") {
		module = "ip_tables"
	}
	if strings.Contains(string(mods), module+" ") {
		return nil
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	builtin, _ := os.ReadFile("/lib/modules/" + unix.ByteSliceToString(uts.Release[:]) + "/modules.builtin")
	if strings.Contains(string(builtin), "/"+module+".ko") {
		return nil
	}
	return &PrereqError{Check: "kernel-module:" + module, Warning: true,
		Detail: "the " + module + " kernel module is not loaded; unprivileged users cannot load it, and dockerd's iptables calls fail without it",
		Remedy: "sudo modprobe " + module + " (and list it in /etc/modules-load.d/)"}
}

// iptablesOff reports whether dockerd is told not to use iptables, on its command line
// (--iptables=false, =0, ...) or in its daemon.json ("iptables": false).
func iptablesOff(args []string, daemonJSON string) bool {
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
	if b, err := os.ReadFile(daemonJSON); err == nil && json.Unmarshal(b, &cfg) == nil && cfg.Iptables != nil {
		return off || !*cfg.Iptables
	}
	return off
}

// checkSysctlWarnings covers the limitations the Docker documentation lists with sysctl fixes.
func checkSysctlWarnings(h *netdriver.Host) error {
	var errs []error
	if v, err := h.Sysctl("net.ipv4.ping_group_range"); err == nil {
		f := strings.Fields(v)
		if len(f) == 2 {
			lo, _ := strconv.Atoi(f[0])
			hi, _ := strconv.Atoi(f[1])
			if lo > hi || lo > 0 {
				errs = append(errs, &PrereqError{Check: "ping", Warning: true,
					Detail: "net.ipv4.ping_group_range is \"" + strings.Join(f, " ") + "\": ping does not work in containers",
					Remedy: "echo 'net.ipv4.ping_group_range = 0 2147483647' | sudo tee /etc/sysctl.d/52-rootless-ping.conf && sudo sysctl --system"})
			}
		}
	}
	if v, err := h.Sysctl("net.ipv4.ip_unprivileged_port_start"); err == nil && strings.TrimSpace(v) != "0" {
		errs = append(errs, &PrereqError{Check: "privileged-ports", Warning: true,
			Detail: "net.ipv4.ip_unprivileged_port_start is " + strings.TrimSpace(v) + ": ports below it cannot be published",
			Remedy: "publish ports >= " + strings.TrimSpace(v) + ", or add net.ipv4.ip_unprivileged_port_start=0 to /etc/sysctl.conf and run sudo sysctl --system, or sudo setcap cap_net_bind_service=ep on the process that binds"})
	}
	return errors.Join(errs...)
}

// checkTun checks that the tap device RootlessKit creates for the network driver can be opened.
func checkTun(d netdriver.Driver) error {
	if !d.Properties().Namespace || d.Name() == "lxc-user-nic" || d.Name() == "none" {
		return nil
	}
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err == nil {
		f.Close()
		return nil
	}
	return &PrereqError{Check: "tun", Detail: "cannot open /dev/net/tun (" + err.Error() + "): RootlessKit's tap device fails with \"open: Permission denied\"",
		Remedy: "sudo chmod 0666 /dev/net/tun (persistently: a udev rule KERNEL==\"tun\", MODE=\"0666\")", Err: err}
}

// checkMTU warns when the default route's MTU is below the namespace's and clamping is off.
func checkMTU(h *netdriver.Host, p *plan) error {
	if p.c.prefs.ClampMTU {
		return nil
	}
	r, err := h.DefaultRoute()
	mtu := p.net.Properties().MTU
	if err != nil || r.MTU == 0 || r.MTU >= mtu || r.MTU >= 1500 {
		return nil
	}
	return &PrereqError{Check: "mtu", Warning: true,
		Detail: fmt.Sprintf("the default route (%s) has MTU %d, below the namespace's %d: pulls and TLS handshakes may hang", r.Iface, r.MTU, mtu),
		Remedy: "use rootless.WithMTUClamp()"}
}

// seLinuxEnabled is what `selinuxenabled` tests: an SELinux filesystem that is mounted.
func seLinuxEnabled() bool {
	var fs unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &fs) == nil && fs.Type == unix.SELINUX_MAGIC
}

// currentUser is the user's name and home directory; HOME wins, as in a shell.
func currentUser() (name, home string) {
	home = os.Getenv("HOME")
	if u, err := user.Current(); err == nil {
		name = u.Username
		if home == "" {
			home = u.HomeDir
		}
	}
	return name, home
}
