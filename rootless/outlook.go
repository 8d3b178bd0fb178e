package rootless

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
)

// Outlook is what dockerd will do on this host, as far as Check can tell before it starts:
// the storage driver it will pick and the cgroup driver, with the docker run flags it will
// ignore. Daemon.Info confirms both once the daemon runs.
type Outlook struct {
	Storage Storage `json:"storage"`
	Cgroups Cgroups `json:"cgroups"`
}

// Storage is the storage dockerd will use for images and containers.
type Storage struct {
	// Driver is the graph driver (overlay2, fuse-overlayfs, btrfs, vfs) or, with the
	// containerd image store, its snapshotter (overlayfs, native); "" if unknown.
	Driver string `json:"driver"`
	// Snapshotter: the containerd image store (Docker 29's default for a new data root).
	Snapshotter bool `json:"containerd_snapshotter"`
	// Reasons say why, one sentence each, in the order the rules were considered.
	Reasons []string `json:"reasons"`
}

// Cgroups is how dockerd will use cgroups for containers.
type Cgroups struct {
	// Driver is "systemd" (cgroup v2 with systemd as init), "cgroupfs" (asked for), or "none"
	// (cgroup v1 or no systemd: every resource limit is ignored), as docker info will say.
	Driver string `json:"driver"`
	// Version is the cgroup version (2, or 1 for v1 and hybrid hosts); 0 without cgroups.
	Version int `json:"version"`
	// Delegated are the controllers dockerd may use (systemd driver).
	Delegated []string `json:"delegated,omitempty"`
	// IgnoredFlags are the docker run flags that dockerd ignores or refuses on this host.
	IgnoredFlags []string `json:"ignored_run_flags,omitempty"`
	Reasons      []string `json:"reasons"`
}

// runFlags are the docker run flags that need each cgroup controller.
var runFlags = []struct {
	controller string
	flags      []string
}{
	{"cpu", []string{"--cpus", "--cpu-shares", "--cpu-period", "--cpu-quota"}},
	{"cpuset", []string{"--cpuset-cpus", "--cpuset-mems"}},
	{"io", []string{"--blkio-weight", "--blkio-weight-device", "--device-read-bps", "--device-write-bps", "--device-read-iops", "--device-write-iops"}},
	{"memory", []string{"--memory", "--memory-swap", "--memory-reservation", "--oom-kill-disable"}},
	{"pids", []string{"--pids-limit"}},
}

// outlookCgroups predicts dockerd's cgroup driver as moby decides it in rootless mode: an
// exec-opt native.cgroupdriver wins; otherwise systemd on cgroup v2 with systemd as init, and
// none elsewhere.
func outlookCgroups(r *resolver) (Cgroups, error) {
	rep := r.doc.cgroups
	var c Cgroups
	if rep == nil {
		return Cgroups{Reasons: []string{"the cgroup set-up could not be inspected"}}, nil
	}
	switch rep.Mode {
	case cgroupdeleg.Unified:
		c.Version = 2
	case cgroupdeleg.Hybrid, cgroupdeleg.Legacy:
		c.Version = 1
	}
	var err error
	configured, where := r.execOpt("native.cgroupdriver")
	switch {
	case configured != "":
		c.Driver = configured
		c.Reasons = append(c.Reasons, "native.cgroupdriver="+configured+" is set ("+where+")")
		if configured == "systemd" && c.Version != 2 {
			err = problem(IDSystemdDriverNeedsV2,
				"native.cgroupdriver=systemd is set, and rootless dockerd refuses it without cgroup v2: it fails at start with \"exec-opt native.cgroupdriver=systemd requires cgroup v2 for rootless mode\"",
				where+"; /sys/fs/cgroup: "+rep.Mode.String(),
				"remove native.cgroupdriver=systemd from exec-opts (dockerd then runs without cgroups), or boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)")
		}
	case c.Version == 2 && rep.Systemd:
		c.Driver = "systemd"
		c.Reasons = append(c.Reasons, "cgroup v2 with systemd as init: rootless dockerd uses the systemd driver, through the user's systemd manager and D-Bus")
	default:
		c.Driver = "none"
		why := "cgroup " + rep.Mode.String()
		if c.Version == 2 {
			why = "systemd is not init"
		}
		c.Reasons = append(c.Reasons, why+": rootless dockerd uses no cgroups (docker info: \"Cgroup Driver: none\"), and docker run prints \"Limitation discarded\" for every limit")
	}
	switch c.Driver {
	case "none":
		for _, rf := range runFlags {
			c.IgnoredFlags = append(c.IgnoredFlags, rf.flags...)
		}
	case "systemd", "cgroupfs":
		c.Delegated = slices.Clone(rep.Delegated)
		var missing []string
		for _, rf := range runFlags {
			if !slices.Contains(rep.Delegated, rf.controller) {
				c.IgnoredFlags = append(c.IgnoredFlags, rf.flags...)
				missing = append(missing, rf.controller)
			}
		}
		c.Reasons = append(c.Reasons, "delegated controllers: "+listOr(rep.Delegated, "none"))
		if len(missing) > 0 {
			c.Reasons = append(c.Reasons, "not delegated, so their flags are ignored or refused: "+strings.Join(missing, " "))
		}
	}
	return c, err
}

// Filesystem magic numbers (statfs f_type) that decide the storage driver.
const (
	btrfsMagic   = 0x9123683e
	overlayMagic = 0x794c7630
	tmpfsMagic   = 0x01021994
)

// outlookStorage predicts dockerd's storage by the rules of Docker's documentation for rootless
// mode, settled by the overlay probe where it ran: overlay2 with kernel 5.11 or an Ubuntu
// kernel, fuse-overlayfs with 4.18 and the program and /dev/fuse, btrfs on btrfs (4.18 or
// user_subvol_rm_allowed), else vfs. Docker 29's containerd image store (the default for a
// new data root) uses the overlayfs snapshotter instead of overlay2.
func outlookStorage(r *resolver) (Storage, error) {
	h, p, d := r.h, r.p, r.doc
	k := d.kernel
	var s Storage
	var errs []error
	kern := "kernel " + orElse(k.release, "(unknown)")
	if k.ubuntu {
		kern += " (Ubuntu)"
	}
	dataRoot := p.Paths.DataRoot
	fsType, _ := h.statfs(dataRoot)

	// Without a probe the kernel's version decides; an unknown kernel is given the benefit of
	// the doubt (the probe, or dockerd itself, has the last word).
	overlayOK := k.atLeast(5, 11) || k.ubuntu || !k.known()
	var overlayWhy string
	d.probes.wait()
	probe := d.probes.overlay
	switch {
	case probe.ran && !probe.failed():
		overlayOK = true
		overlayWhy = "an overlay mount with an upper layer works in a user namespace (probed in " + d.probes.overlayDir + ")"
	case probe.ran:
		ruleOK := overlayOK
		if _, cloned := probe.cloneErrno(); cloned || lsmDenied(h, probe) {
			overlayWhy = fmt.Sprintf("the overlay probe got no working user namespace (%s), so the %s decides: overlay in a user namespace %s", probe.firstLine(), kern, yesNo(overlayOK, "works", "needs 5.11 or an Ubuntu kernel"))
		} else {
			overlayOK = false
			overlayWhy = "the overlay mount probe in a user namespace failed (in " + d.probes.overlayDir + "): " + probe.firstLine()
			if ruleOK { // the kernel's version promised it: worth a finding of its own
				errs = append(errs, warning(IDOverlayUnsupported,
					"an overlay mount in a user namespace fails on this host although "+kern+" should allow it, so dockerd cannot use overlay2 (nor containerd's overlayfs snapshotter): "+probe.firstLine(),
					fmt.Sprintf("%s: %s", probe.argv, probe.firstLine()),
					overlayFix(r, fsType)))
			}
		}
	case !k.known():
		overlayWhy = "the kernel's version is unknown and no probe ran: assuming overlay works in a user namespace"
	default:
		overlayWhy = fmt.Sprintf("%s: overlay in a user namespace %s (no probe ran)", kern, yesNo(overlayOK, "works from 5.11 (and on Ubuntu kernels)", "needs 5.11 or an Ubuntu kernel"))
	}
	if cfg, _ := kernelConfig(h, k.release); cfg != nil && cfg["CONFIG_OVERLAY_FS"] == "n" {
		overlayOK = false
	}
	if h.selinux != nil && h.selinux() {
		overlayOK = false
		overlayWhy += "; SELinux is enabled, and rootless dockerd does not use overlay2 with it (moby#42333)"
	}
	_, fuseErr := h.net.LookPath("fuse-overlayfs")
	devErr := h.openRW("/dev/fuse")
	fuseOK := k.atLeast(4, 18) && fuseErr == nil && devErr == nil
	fuseWhy := "fuse-overlayfs needs kernel 4.18, the fuse-overlayfs program and a usable /dev/fuse"
	switch {
	case fuseErr != nil:
		fuseWhy += ": fuse-overlayfs is not installed"
	case devErr != nil:
		fuseWhy += ": /dev/fuse: " + devErr.Error()
	case !k.atLeast(4, 18):
		fuseWhy += ": this is " + kern
	default:
		fuseWhy = "fuse-overlayfs is installed and /dev/fuse is usable"
	}

	configured, where := r.setting("--storage-driver", "storage-driver")
	s.Snapshotter, s.Reasons = snapshotterDefault(r)
	switch {
	case configured != "":
		s.Driver = configured
		s.Reasons = append(s.Reasons, "storage-driver is set ("+where+")")
	case s.Snapshotter:
		switch {
		case overlayOK:
			s.Driver = "overlayfs"
			s.Reasons = append(s.Reasons, "snapshotter overlayfs: "+overlayWhy)
		case !k.atLeast(5, 11) && !k.ubuntu && k.known():
			s.Driver = "overlayfs"
			s.Reasons = append(s.Reasons, "snapshotter overlayfs, which fails here: "+overlayWhy)
			cfg := "~/.config/docker/daemon.json"
			if _, path := r.daemonConfig(); path != "" {
				cfg = path
			}
			errs = append(errs, problem(IDSnapshotterOldKernel,
				fmt.Sprintf("dockerd %s uses the containerd image store by default, whose overlayfs snapshotter needs overlayfs in a user namespace, which %s lacks (5.11 or an Ubuntu kernel): pulls and container starts fail (moby#53029)", p.Dockerd.Version, kern),
				kern+"; dockerd "+p.Dockerd.Version,
				fmt.Sprintf("turn the containerd image store off: add \"features\": {\"containerd-snapshotter\": false} to %s (dockerd then picks fuse-overlayfs or vfs: %s), or boot a kernel >= 5.11", cfg, r.doc.distro.install(pkgFuseOverlay))))
		default:
			s.Driver = "native"
			s.Reasons = append(s.Reasons, "snapshotter native (a full copy per layer): "+overlayWhy)
		}
	case fsType == btrfsMagic:
		s.Driver = "btrfs"
		s.Reasons = append(s.Reasons, "the data root "+dataRoot+" is on btrfs, which dockerd prefers")
		if !k.atLeast(4, 18) && !mountHasOption(h, dataRoot, "user_subvol_rm_allowed") {
			errs = append(errs, warning(IDBtrfsSubvolRm,
				fmt.Sprintf("the data root %s is on btrfs without user_subvol_rm_allowed, and %s is older than 4.18: dockerd cannot delete the subvolumes of removed images and containers", dataRoot, kern),
				kern+"; /proc/self/mountinfo: no user_subvol_rm_allowed",
				"mount the file system with -o user_subvol_rm_allowed (in /etc/fstab; now: sudo mount -o remount,user_subvol_rm_allowed MOUNTPOINT), or boot a kernel >= 4.18"))
		}
	case overlayOK:
		s.Driver = "overlay2"
		s.Reasons = append(s.Reasons, "overlay2: "+overlayWhy)
	case fuseOK:
		s.Driver = "fuse-overlayfs"
		s.Reasons = append(s.Reasons, "not overlay2: "+overlayWhy, fuseWhy)
	default:
		s.Driver = "vfs"
		s.Reasons = append(s.Reasons, "not overlay2: "+overlayWhy, "not fuse-overlayfs: "+fuseWhy)
	}
	if s.Driver == "vfs" || s.Driver == "native" {
		errs = append(errs, warning(IDStorageVFS,
			fmt.Sprintf("dockerd will store images with %s: every layer is a full copy, so images take many times their size on disk (one CI job: 60 GB instead of 5) and builds are slow", s.Driver),
			strings.Join(s.Reasons, "; "),
			overlayFix(r, fsType)))
	}
	return s, diag.Join(errs...)
}

// overlayFix is how to get overlay-class storage back.
func overlayFix(r *resolver, fsType int64) string {
	var fix []string
	if fsType == overlayMagic || fsType == nfsMagic {
		fix = append(fix, "put the data root on a local file system that is not overlayfs (in a container: a volume), with rootless.WithDataRoot")
	}
	if !r.doc.kernel.atLeast(5, 11) && !r.doc.kernel.ubuntu {
		fix = append(fix, "boot a kernel >= 5.11")
	}
	fix = append(fix, "install fuse-overlayfs and make /dev/fuse usable: "+r.doc.distro.install(pkgFuseOverlay)+" (in a container: --device /dev/fuse)")
	return strings.Join(fix, "; or ")
}

// snapshotterDefault reports whether dockerd will use the containerd image store: Docker 29 and
// later do for a data root without graph-driver data, unless daemon.json turns it off.
func snapshotterDefault(r *resolver) (bool, []string) {
	p := r.p
	major, _, release := dockerRelease(p.Dockerd.Version)
	is29 := release && major >= 29 || !release && p.Dockerd.DetachNetNS
	if !is29 {
		return false, nil
	}
	cfg, path := r.daemonConfig()
	if raw, ok := cfg["features"]; ok && strings.Contains(strings.ReplaceAll(string(raw), " ", ""), `"containerd-snapshotter":false`) {
		return false, []string{"the containerd image store is turned off (" + path + ")"}
	}
	if _, _, err := r.h.dir(filepath.Join(p.Paths.DataRoot, "image")); err == nil {
		return false, []string{"the data root holds graph-driver images (" + filepath.Join(p.Paths.DataRoot, "image") + "), which dockerd keeps using"}
	}
	return true, []string{"dockerd " + p.Dockerd.Version + " uses the containerd image store for a new data root (Docker 29)"}
}

// mountHasOption reports whether the mount that holds p has the super-block option opt, from
// /proc/self/mountinfo.
func mountHasOption(h *host, p, opt string) bool {
	b, err := h.net.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	best, opts := "", ""
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 5 || sep < 0 || sep+3 >= len(f) {
			continue
		}
		mp := f[4]
		if (p == mp || strings.HasPrefix(p, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, opts = mp, f[5]+","+f[sep+3]
		}
	}
	return slices.Contains(strings.Split(opts, ","), opt)
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func listOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, " ")
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
