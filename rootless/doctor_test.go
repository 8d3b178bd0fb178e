package rootless

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/portdriver"
)

// checkOn runs Check on the fixture host with env (default: XDG_RUNTIME_DIR=/run/user/1000).
func checkOn(t *testing.T, f fixture, env []string, opts ...Option) *Report {
	t.Helper()
	if env == nil {
		env = []string{"XDG_RUNTIME_DIR=/run/user/1000"}
	}
	c, err := newConfig(append([]Option{WithEnviron(env)}, opts...))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := f.host(t)
	rep, err := check(context.Background(), c, h)
	if err != nil {
		t.Fatalf("Check could not run: %v", err)
	}
	return rep
}

func (r *Report) finding(id diag.ID) *diag.Finding {
	for _, f := range r.Findings {
		if f.ID == id {
			return f
		}
	}
	return nil
}

func (r *Report) errorIDs() []diag.ID {
	var ids []diag.ID
	for _, f := range r.Findings {
		if f.Severity == diag.Error {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

func dump(r *Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %s %s: %s\n    evidence: %s\n    fix: %s\n", f.Severity, f.ID, f.Detail, f.Evidence, f.Fix)
	}
	return b.String()
}

const (
	natProbe    = "/usr/sbin/iptables -w -t nat -N ROOTLESSD-PROBE"
	filterProbe = "/usr/sbin/iptables -w -t filter -N ROOTLESSD-PROBE"
	mountDenied = "mount: /home/alice/.local/share/docker/.rootlessd-overlay-probe-1/merged: permission denied.\n"
)

var errExit = errors.New("exit status 1")

func osRelease(id, like string) string {
	return fmt.Sprintf("ID=%s\nID_LIKE=%q\nPRETTY_NAME=\"%s\"\n", id, like, id)
}

func gzipped(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestDoctorFindings: each host has one problem, and Check names it with the expected ID and
// severity, evidence and the fix, and blocks Launch exactly when the finding is an error.
func TestDoctorFindings(t *testing.T) {
	current := debian12().without("/usr/bin/rootlesskit", "/usr/bin/rootlesskit-docker-proxy").rootlesskit("3.3.0").dockerd("library-import")
	restricted := current.sysctl("kernel.apparmor_restrict_unprivileged_userns", "1").file("/sys/module/apparmor/parameters/enabled", "Y\n").
		file("/proc/self/attr/current", "unconfined\n")
	confined := debian12().file("/sys/module/apparmor/parameters/enabled", "Y\n").
		file("/sys/kernel/security/apparmor/features/namespaces/userns_create", "yes\n").
		file("/proc/self/attr/current", "app-test (enforce)\n")
	appProfile := "abi <abi/4.0>,\ninclude <tunables/global>\n\nprofile app-test /home/alice/bin/app {\n  /** rwlkm,\n  capability,\n}\n"
	rkNoUserns := "abi <abi/4.0>,\n\nprofile rootlesskit /usr/bin/rootlesskit {\n  capability,\n}\n"
	tests := []struct {
		name     string
		f        fixture
		env      []string
		opts     []Option
		id       diag.ID
		severity diag.Severity
		want     []string // in detail, evidence or fix
		absent   []diag.ID
	}{
		{name: "seccomp refuses userns", f: debian12().sysctl("kernel.unprivileged_userns_clone", "1").probe("overlay", "", forkErr(syscall.EPERM)),
			id: IDUsernsDenied, severity: diag.Error, want: []string{"seccomp", "--privileged", "operation not permitted"}},
		{name: "userns_clone=0 explains EPERM", f: debian12().sysctl("kernel.unprivileged_userns_clone", "0").probe("overlay", "", forkErr(syscall.EPERM)),
			id: IDUsernsCloneDisabled, severity: diag.Error, absent: []diag.ID{IDUsernsDenied}},
		{name: "user namespaces used up", f: debian12().probe("overlay", "", forkErr(syscall.ENOSPC)),
			id: IDUsernsDenied, severity: diag.Error, want: []string{"user.max_user_namespaces = 127436", "no space left on device"}},
		{name: "max_user_namespaces=0 explains ENOSPC", f: debian12().sysctl("user.max_user_namespaces", "0").probe("overlay", "", forkErr(syscall.ENOSPC)),
			id: IDMaxUserNamespacesZero, severity: diag.Error, absent: []diag.ID{IDUsernsDenied}},
		{name: "kernel without userns", f: debian12().probe("overlay", "", forkErr(syscall.EINVAL)),
			id: IDKernelNoUserns, severity: diag.Error},
		{name: "EACCES without AppArmor", f: debian12().probe("overlay", "", forkErr(syscall.EACCES)),
			id: IDUsernsDenied, severity: diag.Error, want: []string{"security module"}},

		// AppArmor.
		{name: "Ubuntu restriction, embedded, no profile", f: restricted.probe("overlay", mountDenied, errExit),
			opts: []Option{WithEngine(EngineEmbedded)}, id: IDAppArmorNoProfile, severity: diag.Error,
			want:   []string{"/etc/apparmor.d/home.alice.bin.app", "/home/alice/bin/app flags=(unconfined) {", "userns,", "apparmor_parser -r", "kernel.apparmor_restrict_unprivileged_userns = 1"},
			absent: []diag.ID{IDOverlayUnsupported, IDStorageVFS}},
		{name: "Ubuntu restriction, embedded, probe works", f: restricted,
			opts: []Option{WithEngine(EngineEmbedded)}, id: IDAppArmorProfile, severity: diag.Info},
		{name: "Ubuntu restriction, external, profiled rootlesskit", f: restricted.file("/etc/apparmor.d/rootlesskit", ubuntuRootlessKitProfile).probe("overlay", mountDenied, errExit).
			probe(natProbe, "iptables v1.8.10 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n", errExit),
			id: IDAppArmorProfile, severity: diag.Info, want: []string{"/etc/apparmor.d/rootlesskit:7"},
			absent: []diag.ID{IDOverlayUnsupported, IDKernelModuleMissing, IDIptablesUnusable}},
		{name: "Ubuntu restriction, rootlesskit in ~/bin without profile", f: restricted.file("/etc/apparmor.d/rootlesskit", ubuntuRootlessKitProfile).
			with("/home/alice/bin/rootlesskit").out("/home/alice/bin/rootlesskit --version", "tool:rootlesskit-3.3.0.version"),
			opts: []Option{WithEngine(EngineExternal), WithBinaries(Binaries{RootlessKit: "/home/alice/bin/rootlesskit"})},
			id:   IDAppArmorNoProfile, severity: diag.Error, want: []string{"/etc/apparmor.d/home.alice.bin.rootlesskit", "/home/alice/bin/rootlesskit flags=(unconfined)"}},
		{name: "confined by a profile without userns", f: confined.file("/etc/apparmor.d/app-test", appProfile).probe("overlay", "", forkErr(syscall.EACCES)),
			opts: []Option{WithEngine(EngineEmbedded)}, id: IDAppArmorDeniesUserns, severity: diag.Error,
			want: []string{"/etc/apparmor.d/app-test:4", "app-test (enforce)", "userns,", "sudo sed -i '4s/"}},
		{name: "confined, EngineAuto falls back to a profiled rootlesskit", f: confined.file("/etc/apparmor.d/app-test", appProfile).
			file("/etc/apparmor.d/rootlesskit", ubuntuRootlessKitProfile).probe("overlay", "", forkErr(syscall.EACCES)),
			id: IDAppArmorDeniesUserns, severity: diag.Warning, want: []string{"Launch falls back to /usr/bin/rootlesskit"}},
		{name: "external rootlesskit confined without userns", f: confined.file("/etc/apparmor.d/usr.bin.rootlesskit", rkNoUserns),
			opts: []Option{WithEngine(EngineExternal)}, id: IDAppArmorDeniesUserns, severity: diag.Error,
			want: []string{"/etc/apparmor.d/usr.bin.rootlesskit:3", "profile rootlesskit"}},
		{name: "external rootlesskit profile, kernel without userns mediation", f: confined.without("/sys/kernel/security/apparmor/features/namespaces/userns_create").
			file("/etc/apparmor.d/usr.bin.rootlesskit", rkNoUserns), opts: []Option{WithEngine(EngineExternal)},
			absent: []diag.ID{IDAppArmorDeniesUserns, IDAppArmorNoProfile}},

		// iptables inside the namespace.
		{name: "nat table missing, openSUSE", f: debian12().file("/etc/os-release", osRelease("opensuse-leap", "suse opensuse")).
			probe(natProbe, "iptables v1.8.9 (legacy): can't initialize iptables table `nat': Table does not exist (do you need to insmod?)\nPerhaps iptables or your kernel needs to be upgraded.\n", errExit),
			id: IDKernelModuleMissing, severity: diag.Error,
			want: []string{"sudo modprobe ip_tables iptable_mangle iptable_nat iptable_filter", "nat table", natProbe}},
		{name: "nat table missing, Fedora, nft", f: debian12().file("/etc/os-release", osRelease("fedora", "")).
			out("/usr/sbin/iptables --version", "iptables v1.8.10 (nf_tables)\n").
			probe(natProbe, "iptables v1.8.10 (nf_tables): Could not process rule: No such file or directory\n", errExit),
			id: IDKernelModuleMissing, severity: diag.Error, want: []string{"sudo dnf install -y iptables-nft", "nft_chain_nat"}},
		{name: "filter table missing, Debian", f: debian12().file("/etc/os-release", osRelease("debian", "")).
			probe(filterProbe, "iptables v1.8.9 (legacy): can't initialize iptables table `filter': Table does not exist (do you need to insmod?)\n", errExit),
			id: IDKernelModuleMissing, severity: diag.Error, want: []string{"filter table", "sudo modprobe ip_tables"}},
		{name: "iptables fails otherwise", f: debian12().probe(natProbe, "iptables: segmentation fault\n", errExit),
			id: IDIptablesUnusable, severity: diag.Error, want: []string{"--iptables=false", "segmentation fault"}},
		{name: "iptables off: no probe, no finding", f: debian12().probe(natProbe, "Table does not exist\n", errExit),
			opts: []Option{WithDockerdArgs("--iptables=false")}, absent: []diag.ID{IDKernelModuleMissing, IDIptablesUnusable}},
		{name: "nftables backend probes nft", f: debian12().file("/home/alice/.config/docker/daemon.json", `{"firewall-backend": "nftables"}`).
			probe("/usr/sbin/nft add table ip rootlessd_probe; add chain ip rootlessd_probe nat { type nat hook postrouting priority 100 ; }", "Error: Could not process rule: No such file or directory\n", errExit),
			id: IDKernelModuleMissing, severity: diag.Error, want: []string{"nft"}},
		// The plan's own nftables backend (Docker 29 and nft): the probe tries nft, which dockerd
		// will use, and not iptables, which it will not.
		{name: "plan's nftables backend probes nft", f: debian12().dockerd("29.7.2").
			probe("/usr/sbin/nft add table ip rootlessd_probe; add chain ip rootlessd_probe nat { type nat hook postrouting priority 100 ; }", "Error: Could not process rule: No such file or directory\n", errExit),
			id: IDKernelModuleMissing, severity: diag.Error, want: []string{"nft"}},
		{name: "plan's nftables backend: no iptables probe", f: debian12().dockerd("29.7.2").probe(natProbe, "Table does not exist\n", errExit),
			absent: []diag.ID{IDKernelModuleMissing, IDIptablesUnusable}},

		// Storage.
		{name: "overlay probe fails, vfs", f: debian12().probe("overlay", "mount: /x: wrong fs type, bad option, bad superblock on overlay.\n", errExit),
			id: IDStorageVFS, severity: diag.Warning, want: []string{"vfs", "fuse-overlayfs"}},
		{name: "overlay probe fails: the probe's own warning", f: debian12().probe("overlay", "mount: /x: wrong fs type, bad option, bad superblock on overlay.\n", errExit),
			id: IDOverlayUnsupported, severity: diag.Warning, want: []string{"wrong fs type"}},
		{name: "overlay probe fails, fuse-overlayfs usable", f: debian12().with("/usr/bin/fuse-overlayfs").device("/dev/fuse", nil).
			probe("overlay", "mount: /x: wrong fs type.\n", errExit), id: IDOverlayUnsupported, severity: diag.Warning, absent: []diag.ID{IDStorageVFS}},
		{name: "Docker 29 snapshotter on kernel 5.4", f: debian12().dockerd("29.7.2").sysctl("kernel.osrelease", "5.4.0-150").
			probe("overlay", "mount: /x: permission denied.\n", errExit),
			id: IDSnapshotterOldKernel, severity: diag.Error, want: []string{`"features": {"containerd-snapshotter": false}`, "moby#53029"}},
		{name: "Docker 29 snapshotter off", f: debian12().dockerd("29.7.2").sysctl("kernel.osrelease", "5.4.0-150").
			file("/home/alice/.config/docker/daemon.json", `{"features": {"containerd-snapshotter": false}}`).probe("overlay", "mount: /x: permission denied.\n", errExit),
			id: IDStorageVFS, severity: diag.Warning, absent: []diag.ID{IDSnapshotterOldKernel}},
		{name: "Ubuntu kernel 5.4 has overlay", f: debian12().dockerd("29.7.2").sysctl("kernel.osrelease", "5.4.0-150-generic").
			sysctl("kernel.version", "#167-Ubuntu SMP Mon May 15 17:35:05 UTC 2023").dir("/home/alice", 0, 0o755),
			absent: []diag.ID{IDSnapshotterOldKernel, IDStorageVFS}},
		{name: "kernel config without overlay", f: debian12().file("/proc/config.gz", gzipped(t, "CONFIG_USER_NS=y\n# CONFIG_OVERLAY_FS is not set\n")),
			id: IDKernelNoOverlay, severity: diag.Warning, want: []string{"/proc/config.gz: # CONFIG_OVERLAY_FS is not set"}},
		{name: "kernel config without userns", f: debian12().file("/boot/config-6.18.0-rootlessd", "# CONFIG_USER_NS is not set\nCONFIG_OVERLAY_FS=m\n"),
			id: IDKernelNoUserns, severity: diag.Error, want: []string{"/boot/config-6.18.0-rootlessd"}},

		// The runtime directory.
		{name: "XDG_RUNTIME_DIR unset", f: debian12(), env: []string{"TZ=UTC"}, id: IDRuntimeDirUnset, severity: diag.Info,
			want: []string{"export XDG_RUNTIME_DIR=/run/user/1000", "sudo -iu"}},
		{name: "XDG_RUNTIME_DIR of root", f: debian12().dir("/run/user/0", 0, 0o700), env: []string{"XDG_RUNTIME_DIR=/run/user/0"},
			id: IDRuntimeDirOwner, severity: diag.Error, want: []string{"uid 0", "ssh alice@localhost"}},
		{name: "XDG_RUNTIME_DIR in /tmp", f: debian12().dir("/tmp/xdg-alice", 1000, 0o700), env: []string{"XDG_RUNTIME_DIR=/tmp/xdg-alice"},
			id: IDRuntimeDirUnsafe, severity: diag.Error, want: []string{"/tmp has mode 1777", "TOCTOU"}, absent: []diag.ID{IDStateDirUnsafe}},
		{name: "XDG_RUNTIME_DIR open to others", f: debian12().dir("/home/alice/xdg", 1000, 0o755), env: []string{"XDG_RUNTIME_DIR=/home/alice/xdg"},
			id: IDRuntimeDirMode, severity: diag.Warning, want: []string{"chmod 0700 /home/alice/xdg"}},
		{name: "XDG_RUNTIME_DIR without a session", f: debian12(), env: []string{"XDG_RUNTIME_DIR=/run/user/1001"},
			id: IDRuntimeDirMissing, severity: diag.Error, want: []string{"machinectl shell alice@"}},
		{name: "XDG_RUNTIME_DIR to be made in home", f: debian12(), env: []string{"XDG_RUNTIME_DIR=/home/alice/.docker/run"},
			absent: []diag.ID{IDRuntimeDirMissing, IDRuntimeDirOwner, IDRuntimeDirUnsafe}},

		{name: "data root that cannot be made", f: debian12(), opts: []Option{WithDataRoot("/srv/docker")},
			id: IDDataRootCreate, severity: diag.Error, want: []string{"/ belongs to uid 0", "sudo install -d -m 0700 -o alice /srv/docker"}},
		{name: "state dir that cannot be made", f: debian12(), opts: []Option{WithStateDir("/srv/rl")},
			id: IDStateDirCreate, severity: diag.Error, want: []string{"/srv/rl does not exist"}},

		// Other daemons.
		{name: "rootful daemon", f: debian12().socket("/var/run/docker.sock", nil), id: IDRootfulDaemon, severity: diag.Warning,
			want: []string{"sudo systemctl disable --now docker.service docker.socket", "DOCKER_HOST=unix:///run/user/1000/rootlessd/docker.sock"}},
		{name: "rootful daemon out of reach", f: debian12().socket("/var/run/docker.sock", syscall.EACCES), id: IDRootfulDaemon, severity: diag.Info},
		{name: "stale rootful socket", f: debian12().socket("/var/run/docker.sock", syscall.ECONNREFUSED), absent: []diag.ID{IDRootfulDaemon}},
		{name: "socket in use", f: debian12().socket("/run/user/1000/rootlessd/docker.sock", nil), id: IDSocketInUse, severity: diag.Error},
		{name: "containerd-rootless elsewhere", f: debian12().dir("/run/user/1000/containerd-rootless", 1000, 0o700),
			id: IDContainerdRootless, severity: diag.Info},
		{name: "containerd-rootless in our exec root", f: debian12().dir("/run/user/1000/containerd-rootless", 1000, 0o700),
			opts: []Option{WithExecRoot("/run/user/1000")}, id: IDContainerdRootless, severity: diag.Error},
		{name: "data root in use", f: debian12().fileID("/home/alice/.local/share/docker/volumes/metadata.db", "fd:01:4242").
			file("/proc/locks", "1: FLOCK  ADVISORY  WRITE 777 fd:01:4242 0 EOF\n2: POSIX  ADVISORY  WRITE 12 fd:01:99 0 EOF\n").file("/proc/777/comm", "dockerd\n"),
			id: IDDataRootInUse, severity: diag.Error, want: []string{"process 777 (dockerd)", "volumes/metadata.db", "WithDataRoot"}},

		// Nesting and privileges.
		{name: "no_new_privs", f: debian12().file("/proc/self/status", "Name:\tapp\nNoNewPrivs:\t1\nSeccomp:\t0\n"),
			id: IDNoNewPrivs, severity: diag.Error, want: []string{"setpriv --no-new-privs", "NoNewPrivileges"}},

		// Networking.
		{name: "loopback resolver", f: debian12().file("/etc/resolv.conf", "nameserver 127.0.0.53\noptions edns0\n"), id: IDDNSLoopback, severity: diag.Info},
		{name: "real resolver", f: debian12().file("/etc/resolv.conf", "nameserver 192.168.1.1\n"), absent: []diag.ID{IDDNSLoopback}},
		{name: "ping in range", f: debian12().sysctl("net.ipv4.ping_group_range", "0\t2147483647"), absent: []diag.ID{IDPingDisabled}},
		{name: "ping out of range", f: debian12().sysctl("net.ipv4.ping_group_range", "0\t999"), id: IDPingDisabled, severity: diag.Warning,
			want: []string{"gid 1000"}},
		{name: "privileged ports, slirp4netns binds", f: debian12(), opts: []Option{WithPortDriver(portdriver.Slirp4netns{})},
			id: IDPrivilegedPorts, severity: diag.Warning, want: []string{"sudo setcap cap_net_bind_service=ep /usr/bin/slirp4netns"}},
		{name: "systemd driver on cgroup v1", f: debian12().file("/home/alice/.config/docker/daemon.json", `{"exec-opts": ["native.cgroupdriver=systemd"]}`),
			id: IDSystemdDriverNeedsV2, severity: diag.Error, want: []string{"requires cgroup v2 for rootless mode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := checkOn(t, tt.f, tt.env, tt.opts...)
			for _, id := range tt.absent {
				if f := rep.finding(id); f != nil {
					t.Errorf("unexpected %s: %v\nall:\n%s", id, f, dump(rep))
				}
			}
			if tt.id == "" {
				return
			}
			f := rep.finding(tt.id)
			if f == nil {
				t.Fatalf("no %s finding; got:\n%s", tt.id, dump(rep))
			}
			if f.Severity != tt.severity {
				t.Errorf("%s has severity %s, want %s", tt.id, f.Severity, tt.severity)
			}
			if f.Severity != diag.Info && f.Fix == "" || f.Detail == "" || f.Evidence == "" {
				t.Errorf("%s lacks a detail, evidence or fix: %+v", tt.id, f)
			}
			all := f.Detail + "\n" + f.Evidence + "\n" + f.Fix
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("%s does not mention %q:\n%s", tt.id, w, all)
				}
			}
			// Check is Resolve's report: an error blocks Resolve, the rest does not.
			_, err, _ := resolveOnEnv(t, tt.f, tt.env, tt.opts...)
			blocks := errors.Is(err, tt.id)
			if blocks != (tt.severity == diag.Error) {
				t.Errorf("Resolve's error %v; want it to include %s: %v", err, tt.id, tt.severity == diag.Error)
			}
		})
	}
}

func resolveOnEnv(t testing.TB, f fixture, env []string, opts ...Option) (*Plan, error, *runs) {
	if env == nil {
		env = []string{"XDG_RUNTIME_DIR=/run/user/1000"}
	}
	return resolveOn(t, f, append([]Option{WithEnviron(env)}, opts...)...)
}

func (f fixture) fileID(p, id string) fixture {
	g := f.clone()
	if g.fileIDs == nil {
		g.fileIDs = map[string]string{}
	}
	g.fileIDs[p] = id
	return g
}

// TestDoctorHealthyHosts: the fixture hosts of the stacks we know have no error-level
// finding, and the report says what dockerd will do there.
func TestDoctorHealthyHosts(t *testing.T) {
	current := debian12().without("/usr/bin/rootlesskit", "/usr/bin/rootlesskit-docker-proxy").rootlesskit("3.3.0").dockerd("library-import")
	for name, tt := range map[string]struct {
		f               fixture
		storage, cgroup string
		version         int
		ignored         bool // --memory is ignored
	}{
		"debian12": {debian12(), "overlay2", "none", 1, true},
		"current":  {current, "overlayfs", "none", 1, true},
		"trixie":   {trixie(), "overlay2", "systemd", 2, false},
	} {
		t.Run(name, func(t *testing.T) {
			rep := checkOn(t, tt.f, nil)
			if ids := rep.errorIDs(); len(ids) > 0 {
				t.Errorf("error-level findings on a healthy host: %v\n%s", ids, dump(rep))
			}
			d := rep.Docker
			if d.Storage.Driver != tt.storage || d.Cgroups.Driver != tt.cgroup || d.Cgroups.Version != tt.version ||
				slices.Contains(d.Cgroups.IgnoredFlags, "--memory") != tt.ignored {
				t.Errorf("outlook %+v; want storage %s, cgroup driver %s v%d, --memory ignored %v", d, tt.storage, tt.cgroup, tt.version, tt.ignored)
			}
			if len(d.Storage.Reasons) == 0 || len(d.Cgroups.Reasons) == 0 {
				t.Errorf("outlook without reasons: %+v", d)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	for _, tt := range []struct {
		text   string
		family Family
		cmd    string
	}{
		{"NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n", FamilyDebian, "sudo apt-get install -y fuse-overlayfs"},
		{"ID=debian\nVERSION_ID=\"13\"\n", FamilyDebian, "sudo apt-get install -y fuse-overlayfs"},
		{"ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", FamilyDebian, "sudo apt-get install -y fuse-overlayfs"},
		{"ID=fedora\nVERSION_ID=41\n", FamilyFedora, "sudo dnf install -y fuse-overlayfs"},
		{"ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n", FamilyFedora, "sudo dnf install -y fuse-overlayfs"},
		{"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", FamilyFedora, "sudo dnf install -y fuse-overlayfs"},
		{"ID=arch\n", FamilyArch, "sudo pacman -S --needed fuse-overlayfs"},
		{"ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n", FamilySUSE, "sudo zypper install -y fuse-overlayfs"},
		{"ID=\"sles\"\nVERSION_ID=\"15.5\"\n", FamilySUSE, "sudo zypper install -y fuse-overlayfs"},
		{"ID=alpine\n", FamilyOther, "Debian/Ubuntu: sudo apt-get install -y fuse-overlayfs; Fedora/RHEL: sudo dnf install -y fuse-overlayfs; Arch: sudo pacman -S --needed fuse-overlayfs; openSUSE/SLES: sudo zypper install -y fuse-overlayfs"},
		{"", FamilyOther, ""},
	} {
		d := parseOSRelease(tt.text)
		if d.Family != tt.family {
			t.Errorf("parseOSRelease(%q).Family = %q, want %q", tt.text, d.Family, tt.family)
		}
		if tt.cmd != "" {
			if got := d.install(pkgFuseOverlay); got != tt.cmd {
				t.Errorf("%q: install = %q, want %q", tt.text, got, tt.cmd)
			}
		}
	}
	if got := parseOSRelease("ID=debian\n").install(pkgDbusSession); got != "sudo apt-get install -y dbus-user-session" {
		t.Errorf("dbus-user-session: %q", got)
	}
	if got := parseOSRelease("ID=fedora\n").install(pkgDbusSession); got != "sudo dnf install -y dbus-daemon" {
		t.Errorf("Fedora's dbus: %q", got)
	}
}

func TestParseProfiles(t *testing.T) {
	text := `# a comment with profile words {
abi <abi/4.0>,
include <tunables/global>

profile rootlesskit /usr/bin/rootlesskit flags=(unconfined) {
  userns,
  include if exists <local/rootlesskit>
}

/usr/local/bin/rootlesskit {
  capability,
  ^hat {
    userns,
  }
}

profile "with space" "/opt/my app/bin/app" flags=(complain) {
  audit allow userns create,
}

profile home @{HOME}/bin/rootlesskit {
  deny userns,
}

profile nameonly {
  userns,
}

profile /usr/bin/pasta{,.avx2} {
  userns,
}
`
	ps := parseProfiles("/etc/apparmor.d/test", text)
	type want struct {
		name, attach string
		line         int
		grants       bool
	}
	wants := []want{
		{"rootlesskit", "/usr/bin/rootlesskit", 5, true},
		{"/usr/local/bin/rootlesskit", "/usr/local/bin/rootlesskit", 10, false},
		{"with space", "/opt/my app/bin/app", 17, true},
		{"home", "@{HOME}/bin/rootlesskit", 21, false},
		{"nameonly", "", 25, true},
		{"/usr/bin/pasta{,.avx2}", "/usr/bin/pasta{,.avx2}", 29, true},
	}
	if len(ps) != len(wants) {
		t.Fatalf("parsed %d profiles, want %d: %+v", len(ps), len(wants), ps)
	}
	for i, w := range wants {
		p := ps[i]
		if p.name != w.name || p.attach != w.attach || p.line != w.line || p.grantsUserns() != w.grants {
			t.Errorf("profile %d = {%q %q line %d grants %v}, want %+v", i, p.name, p.attach, p.line, p.grantsUserns(), w)
		}
	}
	for _, tt := range []struct {
		i    int
		exe  string
		want bool
	}{
		{0, "/usr/bin/rootlesskit", true},
		{0, "/usr/bin/rootlesskitx", false},
		{1, "/usr/local/bin/rootlesskit", true},
		{2, "/opt/my app/bin/app", true},
		{3, "/home/alice/bin/rootlesskit", true},
		{3, "/root/bin/rootlesskit", true},
		{3, "/home/alice/x/bin/rootlesskit", false},
		{4, "/usr/bin/anything", false},
		{5, "/usr/bin/pasta", true},
		{5, "/usr/bin/pasta.avx2", true},
		{5, "/usr/bin/pasta.x", false},
	} {
		if got := ps[tt.i].attaches(tt.exe); got != tt.want {
			t.Errorf("profile %q attaches %q = %v, want %v (re %v)", ps[tt.i].name, tt.exe, got, tt.want, ps[tt.i].re)
		}
	}
	for glob, tests := range map[string]map[string]bool{
		"/usr/{,local/}bin/*":  {"/usr/bin/x": true, "/usr/local/bin/x": true, "/usr/bin/a/b": false},
		"/opt/**/rootlesskit":  {"/opt/a/b/rootlesskit": true, "/opt/rootlesskit": false, "/opt/a/rootlesskit": true},
		"/usr/bin/run[cd]":     {"/usr/bin/runc": true, "/usr/bin/rund": true, "/usr/bin/rune": false},
		"@{unknown}/bin/tool":  {"/any/where/bin/tool": true},
		"/usr/bin/a?c":         {"/usr/bin/abc": true, "/usr/bin/a/c": false},
		"/usr/bin/with.dot+ok": {"/usr/bin/with.dot+ok": true, "/usr/bin/withxdot+ok": false},
	} {
		re := aareRegexp(glob)
		for p, want := range tests {
			if got := re.MatchString(p); got != want {
				t.Errorf("%q matches %q = %v, want %v (%v)", glob, p, got, want, re)
			}
		}
	}
}

func TestProfileFix(t *testing.T) {
	got := profileFix("/home/alice/bin/app")
	want := `sudo tee /etc/apparmor.d/home.alice.bin.app >/dev/null <<'EOF'
abi <abi/4.0>,
include <tunables/global>

/home/alice/bin/app flags=(unconfined) {
  userns,

  include if exists <local/home.alice.bin.app>
}
EOF
sudo apparmor_parser -r /etc/apparmor.d/home.alice.bin.app   # or: sudo systemctl restart apparmor.service`
	if got != want {
		t.Errorf("profileFix:\n%s\nwant:\n%s", got, want)
	}
	// The profile it writes is one the parser reads back as granting userns to that path.
	body := got[strings.Index(got, "abi"):strings.Index(got, "EOF\nsudo")]
	ps := parseProfiles("/etc/apparmor.d/home.alice.bin.app", body)
	if len(ps) != 1 || !ps[0].grantsUserns() || !ps[0].attaches("/home/alice/bin/app") {
		t.Errorf("the fix's profile reads back as %+v", ps)
	}
	if q := profileFix("/opt/my app/app"); !strings.Contains(q, `"/opt/my app/app" flags=(unconfined) {`) {
		t.Errorf("a path with a space is not quoted:\n%s", q)
	}
	if tmp := profileFix("/tmp/go-build123/b001/exe/app"); !strings.Contains(tmp, "temporary build") {
		t.Errorf("no note for a temporary build:\n%s", tmp)
	}
}

// TestRealSockets: the conflict checks read a real file tree with real listening sockets
// through the seam: a rootful daemon's socket, one that is not listening, and the plan's own
// socket in use.
func TestRealSockets(t *testing.T) {
	root, err := os.MkdirTemp("", "rl") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	for _, d := range []string{"var/run", "run/user/1000/rootlessd"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	rootful := listenUnix(t, filepath.Join(root, "var/run/docker.sock"))
	h := rootedHost(t, root)
	rep := checkRooted(t, h)
	if f := rep.finding(IDRootfulDaemon); f == nil || f.Severity != diag.Warning {
		t.Errorf("listening rootful socket: %v\n%s", f, dump(rep))
	}
	rootful.Close() // the file stays, nothing listens: a stale socket
	if _, err := os.Stat(filepath.Join(root, "var/run/docker.sock")); err != nil {
		t.Skipf("closing the listener removed its socket file (%v); the stale case needs it", err)
	}
	rep = checkRooted(t, rootedHost(t, root))
	if f := rep.finding(IDRootfulDaemon); f != nil {
		t.Errorf("stale socket reported: %v", f)
	}
	own := listenUnix(t, filepath.Join(root, "run/user/1000/rootlessd/docker.sock"))
	defer own.Close()
	rep = checkRooted(t, rootedHost(t, root))
	if f := rep.finding(IDSocketInUse); f == nil || !errors.Is(f, ErrAlreadyRunning) {
		t.Errorf("socket in use: %v\n%s", f, dump(rep))
	}
}

// listenUnix listens on a real unix socket at p, whose file stays when it is closed.
func listenUnix(t *testing.T, p string) *net.UnixListener {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	return l
}

// rootedHost is the debian12 fixture whose files and sockets are the real tree under root.
func rootedHost(t *testing.T, root string) *host {
	h, _ := debian12().host(t)
	real := os.DirFS(root)
	h.fs = mergedFS{real, h.fs}
	n := *h.net
	n.FS = h.fs
	h.net = &n
	h.dial = func(p string) error {
		c, err := net.Dial("unix", filepath.Join(root, p))
		if err == nil {
			c.Close()
		}
		return err
	}
	return h
}

func checkRooted(t *testing.T, h *host) *Report {
	t.Helper()
	c, err := newConfig([]Option{WithEnviron([]string{"XDG_RUNTIME_DIR=/run/user/1000"})})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := check(context.Background(), c, h)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// mergedFS reads a, then b.
type mergedFS struct{ a, b fs.FS }

func (m mergedFS) Open(name string) (fs.File, error) {
	if f, err := m.a.Open(name); err == nil {
		return f, nil
	}
	return m.b.Open(name)
}

func (m mergedFS) Stat(name string) (fs.FileInfo, error) {
	if fi, err := fs.Stat(m.a, name); err == nil {
		return fi, nil
	}
	return fs.Stat(m.b, name)
}

// reportText is what a report golden file holds: the outlook, then every finding with its
// evidence and fix.
func reportText(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "distro: %s (family %q)\n", r.Distro, r.Distro.Family)
	s, c := r.Docker.Storage, r.Docker.Cgroups
	fmt.Fprintf(&b, "storage: %s (containerd snapshotter: %v)\n", orElse(s.Driver, "unknown"), s.Snapshotter)
	for _, why := range s.Reasons {
		fmt.Fprintf(&b, "  - %s\n", why)
	}
	fmt.Fprintf(&b, "cgroups: driver %s, version %d, delegated [%s]\n", c.Driver, c.Version, strings.Join(c.Delegated, " "))
	for _, why := range c.Reasons {
		fmt.Fprintf(&b, "  - %s\n", why)
	}
	fmt.Fprintf(&b, "ignored docker run flags: %s\n", listOr(c.IgnoredFlags, "none"))
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n%s %s\n  %s\n", f.Severity, f.ID, f.Detail)
		if f.Evidence != "" {
			fmt.Fprintf(&b, "  evidence: %s\n", f.Evidence)
		}
		if f.Fix != "" {
			fmt.Fprintf(&b, "  fix:\n    %s\n", strings.ReplaceAll(f.Fix, "\n", "\n    "))
		}
	}
	return b.String()
}

// TestReports keeps whole reports as text, so that every detail and fix is reviewed as text:
// healthy hosts and broken ones of each distribution family.
func TestReports(t *testing.T) {
	current := debian12().without("/usr/bin/rootlesskit", "/usr/bin/rootlesskit-docker-proxy").rootlesskit("3.3.0").dockerd("library-import")
	ubuntu := current.file("/etc/os-release", "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n").
		sysctl("kernel.osrelease", "6.8.0-45-generic").sysctl("kernel.version", "#45-Ubuntu SMP PREEMPT_DYNAMIC").
		sysctl("kernel.apparmor_restrict_unprivileged_userns", "1").file("/sys/module/apparmor/parameters/enabled", "Y\n").
		file("/proc/self/attr/current", "unconfined\n").file("/etc/resolv.conf", "nameserver 127.0.0.53\noptions edns0 trust-ad\n").
		probe("overlay", mountDenied, errExit)
	ubuntu.cgroups = "delegated"
	for name, tt := range map[string]struct {
		f    fixture
		env  []string
		opts []Option
	}{
		"debian12":                 {f: debian12()},
		"trixie":                   {f: trixie().file("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\nVERSION_ID=\"13\"\n")},
		"ubuntu-2404-embedded":     {f: ubuntu, opts: []Option{WithEngine(EngineEmbedded)}},
		"ubuntu-2404-auto":         {f: ubuntu.file("/etc/apparmor.d/rootlesskit", ubuntuRootlessKitProfile)},
		"opensuse-no-nat":          {f: debian12().file("/etc/os-release", "PRETTY_NAME=\"openSUSE Leap 15.6\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n").probe(natProbe, "iptables v1.8.7 (legacy): can't initialize iptables table `nat': Table does not exist (do you need to insmod?)\nPerhaps iptables or your kernel needs to be upgraded.\n", errExit)},
		"rhel8-docker29-kernel418": {f: debian12().dockerd("29.7.2").file("/etc/os-release", "PRETTY_NAME=\"Red Hat Enterprise Linux 8.10 (Ootpa)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\n").sysctl("kernel.osrelease", "4.18.0-553.el8_10.x86_64").sysctl("kernel.version", "#1 SMP").probe("overlay", "mount: /x: permission denied.\n", errExit)},
		"arch-tmp-runtime-dir":     {f: debian12().file("/etc/os-release", "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\n").dir("/tmp/xdg-alice", 1000, 0o700).without("/usr/sbin/iptables"), env: []string{"XDG_RUNTIME_DIR=/tmp/xdg-alice"}},
	} {
		t.Run(name, func(t *testing.T) {
			rep := checkOn(t, tt.f, tt.env, tt.opts...)
			for _, f := range rep.Findings {
				if strings.HasPrefix(string(f.ID), "rootless.") && f.Evidence == "" {
					t.Errorf("%s has no evidence", f.ID)
				}
			}
			goldenFile(t, filepath.Join("reports", name+".golden"), reportText(rep))
		})
	}
}

// TestDataRootInUseAsksLocksFirst: /proc/locks (slow to read on a real host) is consulted only
// about the data root's files that the quick lock test finds locked, and still names the
// holder; with none locked, a lock that /proc/locks would list is not looked for.
func TestDataRootInUseAsksLocksFirst(t *testing.T) {
	const dataRoot = "/home/alice/.local/share/docker"
	f := debian12().fileID(dataRoot+"/volumes/metadata.db", "fd:01:4242").
		file("/proc/locks", "1: FLOCK  ADVISORY  WRITE 777 fd:01:4242 0 EOF\n").file("/proc/777/comm", "dockerd\n")
	h, _ := f.host(t)
	var asked []string
	h.fileLocked = func(p string) bool { asked = append(asked, p); return false }
	if got := dataRootInUse(h, dataRoot); got != nil {
		t.Errorf("no file locked, yet: %v", got)
	}
	if want := []string{dataRoot + "/volumes/metadata.db"}; !slices.Equal(asked, want) {
		t.Errorf("the quick test was asked about %q; want the existing files alone, %q", asked, want)
	}
	h.fileLocked = func(string) bool { return true }
	if got := dataRootInUse(h, dataRoot); got == nil || !strings.Contains(got.Error(), "process 777 (dockerd)") {
		t.Errorf("a locked file: %v; want /proc/locks to name process 777 (dockerd)", got)
	}
}
