package cgroupdeleg

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
)

const limitsIgnored = "rootless dockerd reports \"Cgroup Driver: none\" and ignores docker run --cpus, --memory and --pids-limit"

const perProcessLimits = "# until then, limit processes instead of containers:\n" +
	"#   docker run IMAGE cpulimit --limit=50 --include-children COMMAND   (or ulimit)"

// flags names the docker run flags that need each controller.
var flags = map[string]string{
	"cpu":    "--cpus/--cpu-shares",
	"cpuset": "--cpuset-cpus",
	"io":     "--device-*-bps/--blkio-weight",
	"memory": "--memory",
	"pids":   "--pids-limit",
}

func (d *detector) findings() {
	r := d.r
	switch r.Mode {
	case Unavailable:
		why := "not mounted"
		if d.modeErr != nil {
			why = strings.TrimPrefix(d.modeErr.Error(), "cgroupdeleg: ")
		}
		d.add(diag.Finding{ID: IDCgroupUnavailable, Severity: diag.Warning, Err: d.modeErr, Evidence: d.fsTypes(cgroupMount),
			Detail: fmt.Sprintf("no cgroup filesystem at /sys/fs/cgroup (%s): %s", why, limitsIgnored),
			Fix: "sudo mount -t cgroup2 none /sys/fs/cgroup   # systemd mounts it at boot; a container needs the host's /sys/fs/cgroup\n" +
				perProcessLimits})
	case Legacy:
		d.add(diag.Finding{ID: IDCgroupV1, Severity: diag.Warning, Evidence: d.fsTypes(cgroupMount, unifiedMount),
			Detail: "/sys/fs/cgroup holds cgroup v1 hierarchies only (a tmpfs; no cgroup2 at /sys/fs/cgroup/unified): " + limitsIgnored,
			Fix:    d.cgroupV2Fix()})
	case Hybrid:
		d.add(diag.Finding{ID: IDCgroupHybrid, Severity: diag.Warning,
			Evidence: d.fsTypes(cgroupMount, unifiedMount) + "; " + d.controllersEvidence(unifiedMount, d.kernel),
			Detail: fmt.Sprintf("/sys/fs/cgroup is hybrid: the controllers are on cgroup v1 hierarchies and the cgroup2 mount at /sys/fs/cgroup/unified has %s, so %s",
				yesNo(len(d.kernel) > 0, "only "+strings.Join(d.kernel, " "), "none"), limitsIgnored),
			Fix: d.cgroupV2Fix()})
	}
	if !r.Systemd {
		d.add(diag.Finding{ID: IDNoSystemd, Severity: diag.Warning, Evidence: "/run/systemd/system: no such directory",
			Detail: "systemd is not PID 1 (/run/systemd/system does not exist): rootless dockerd runs without cgroups (\"Cgroup Driver: none\"; docker info warns \"Running in rootless-mode without cgroups\") and ignores docker run --cpus, --memory and --pids-limit",
			Fix:    "# boot the host with systemd as init and cgroup v2 to enforce limits\n" + perProcessLimits})
		return
	}
	unified := r.Mode == Unified
	// sev is diag.Error on a unified host, where the missing part stops
	// containers with limits, and diag.Warning elsewhere, where cgroups are
	// not used anyway.
	sev := diag.Warning
	if unified {
		sev = diag.Error
	}
	if !r.UserManager {
		svc := d.hostCgroupPath(path.Join(r.CgroupRoot, fmt.Sprintf("user.slice/user-%d.slice/user@%d.service", r.UID, r.UID)))
		private := fmt.Sprintf("/run/user/%d/systemd/private", r.UID)
		d.add(diag.Finding{ID: IDNoUserManager, Severity: sev, Evidence: svc + ", " + private + ": no such file or directory",
			Detail: fmt.Sprintf("no systemd user manager runs for %s (no %s, no %s): su and sudo do not start one, and without lingering it stops at logout; rootless dockerd's systemd cgroup driver and its user service need it",
				d.userRef, svc, private),
			Fix: fmt.Sprintf("sudo loginctl enable-linger %s\n# or log in through a real session instead of su/sudo: ssh %s@localhost, or machinectl shell %s@", d.userRef, d.userRef, d.userRef)})
	} else {
		d.busFinding(sev)
	}
	if !r.Linger && r.User != "" {
		d.add(diag.Finding{ID: IDNoLinger, Severity: diag.Info, Evidence: "/var/lib/systemd/linger/" + r.User + ": no such file",
			Detail: fmt.Sprintf("lingering is off for %s (/var/lib/systemd/linger/%s does not exist): the user manager, and rootless dockerd with it, stops when %s's last session ends", r.User, r.User, r.User),
			Fix:    "sudo loginctl enable-linger " + r.User})
	}
	if !unified {
		return
	}
	tooOld := r.SystemdVersion > 0 && r.SystemdVersion < 244
	if tooOld && slices.Contains(r.Missing, "cpuset") {
		d.add(diag.Finding{ID: IDCpusetNeedsSystemd244, Severity: diag.Warning, Evidence: d.versionAt,
			Detail: fmt.Sprintf("cpuset is wanted, but systemd %d (%s) cannot delegate it: delegating cpuset needs systemd 244 or later", r.SystemdVersion, d.versionAt),
			Fix:    "# upgrade systemd to 244 or later; until then docker run --cpuset-cpus stays unavailable"})
	}
	if r.CgroupRoot != "/" {
		d.add(diag.Finding{ID: IDNestedSystemd, Severity: diag.Error, Evidence: "/proc/1/cgroup: 0::" + d.pid1,
			Detail: fmt.Sprintf("systemd's cgroup tree is at %s (/proc/1/cgroup: 0::%s), not at the cgroup root; rootless dockerd looks for /sys/fs/cgroup/user.slice/user-%d.slice, so docker run fails with \"open /sys/fs/cgroup/user.slice/user-%d.slice/cgroup.controllers: no such file or directory\" (moby/moby#53531; WSL 2.9, microsoft/WSL#41492)",
				r.CgroupRoot, d.pid1, r.UID, r.UID),
			Fix: "# no dockerd setting avoids this yet (moby/moby#53531): run rootful Docker, or a WSL release before 2.9, until dockerd resolves its cgroup from /proc/self/cgroup"})
	}
	if r.ServiceCgroup == "" {
		return
	}
	d.delegationFindings(tooOld)
}

func (d *detector) cgroupV2Fix() string {
	if d.r.Systemd {
		return "# boot with cgroup v2 only: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, then\n" +
			"sudo update-grub   # Fedora: sudo grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1\n" +
			"sudo reboot\n" + perProcessLimits
	}
	return "# mount cgroup v2 alone at /sys/fs/cgroup at boot (the init system decides; OpenRC: rc_cgroup_mode=\"unified\" in /etc/rc.conf);\n" +
		"# rootless dockerd also needs systemd as init to use cgroups\n" + perProcessLimits
}

func (d *detector) busFinding(sev diag.Severity) {
	r := d.r
	const symptom = "docker run fails with \"read unix @->/run/systemd/private: read: connection reset by peer\""
	dbusFix := "sudo apt-get install -y dbus-user-session   # Fedora: sudo dnf install -y dbus-daemon\n" +
		"# then log out and back in; if the error remains, run without sudo:\n" +
		"systemctl --user enable --now dbus"
	if r.RuntimeDir == "" && d.sys.getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		fix := fmt.Sprintf("export XDG_RUNTIME_DIR=/run/user/%d\n# or log in through a real session instead of su/sudo: ssh %s@localhost, or machinectl shell %s@", r.UID, d.userRef, d.userRef)
		if r.UserBus == "" {
			fix += "\n" + dbusFix
		}
		d.add(diag.Finding{ID: IDNoUserBus, Severity: sev, Evidence: "XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS are unset",
			Detail: "neither XDG_RUNTIME_DIR nor DBUS_SESSION_BUS_ADDRESS is set (typical of su and sudo), so rootless dockerd cannot reach the user's D-Bus and systemd manager; " + symptom,
			Fix:    fix})
		return
	}
	if r.UserBus != "" {
		return
	}
	where := "$XDG_RUNTIME_DIR/bus"
	bus := path.Join(r.RuntimeDir, "bus")
	if a := d.sys.getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		where, bus = "DBUS_SESSION_BUS_ADDRESS="+a, ""
		if p, _ := busPath(a); p != "" {
			bus = p
		}
	}
	ev := where
	if bus != "" {
		ev = bus + ": no such socket (" + where + ")"
	}
	d.add(diag.Finding{ID: IDNoUserBus, Severity: sev, Evidence: ev,
		Detail: fmt.Sprintf("no user D-Bus socket at %s (%s): the session bus of %s is not running, so the systemd cgroup driver cannot reach the user manager; %s", cmpOr(bus, "that address"), where, d.userRef, symptom),
		Fix:    dbusFix})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// hostCgroupPath turns a cgroup path into the /sys path that holds it.
func (d *detector) hostCgroupPath(cg string) string {
	if dir, ok := d.cgDir(cg); ok {
		return "/" + dir
	}
	return "cgroup " + cg
}

func (d *detector) delegationFindings(tooOld bool) {
	r := d.r
	dir := "/" + d.svcDir
	if !d.ownsCg {
		d.add(diag.Finding{ID: IDNotOwned, Severity: diag.Warning, Evidence: d.ownerEvidence(r.NotOwned[:1]),
			Detail: fmt.Sprintf("%s is not owned by %s: user@%d.service has no delegated cgroup, so none of its controllers (%s) can be used",
				r.NotOwned[0], d.userRef, r.UID, listOr(r.Available, "none")),
			Fix: d.dropInFix(union(r.Wanted, r.Available), nil)})
		return
	}
	if len(r.NotOwned) > 0 {
		d.add(diag.Finding{ID: IDNotOwned, Severity: diag.Info, Evidence: d.ownerEvidence(r.NotOwned),
			Detail: fmt.Sprintf("%s not owned by %s although /sys/kernel/cgroup/delegate lists it; the cgroup itself is delegated", strings.Join(r.NotOwned, ", "), d.userRef),
			Fix:    "# a newer systemd hands these files over too; nothing else is needed"})
	}
	var fixable, noKernel, noSystemd []string
	for _, c := range r.Missing {
		switch {
		case !Delegatable(c):
			noSystemd = append(noSystemd, c)
		case d.kernelOK && !slices.Contains(d.kernel, c):
			noKernel = append(noKernel, c)
		case c == "cpuset" && tooOld:
			// reported as CpusetNeedsSystemd244
		default:
			fixable = append(fixable, c)
		}
	}
	var pending, toAdd []string
	for _, c := range fixable {
		if r.Delegate.Has(c) {
			pending = append(pending, c)
		} else {
			toAdd = append(toAdd, c)
		}
	}
	listed := fmt.Sprintf("%s/cgroup.controllers lists %s", dir, listOr(r.Available, "nothing"))
	// The evidence: what the cgroup has, and what the unit files say.
	ev := d.controllersEvidence(d.svcDir, r.Available) + "; " + d.delegateEvidence()
	if len(toAdd) == 0 && len(pending) > 0 {
		d.add(diag.Finding{ID: IDDelegatePending, Severity: diag.Warning, Evidence: ev,
			Detail: fmt.Sprintf("the unit files delegate %s to user@.service (%s), but %s: user@%d.service started before that configuration",
				strings.Join(pending, " "), d.evidence(), listed, r.UID),
			Fix: fmt.Sprintf("sudo systemctl daemon-reload\n# then log out of every session of %s and log in again, or reboot\n# (with lingering on: sudo systemctl restart user@%d.service, which stops %s's services)", d.userRef, r.UID, d.userRef)})
	}
	if len(toAdd) == 0 && len(noKernel) == 0 && len(noSystemd) == 0 {
		return
	}
	var why []string
	if len(toAdd) > 0 {
		why = append(why, fmt.Sprintf("Delegate= of user@%d.service is %q (%s)", r.UID, r.Delegate.String(), d.evidence()))
		if v := r.SystemdVersion; v > 0 && v < 252 && slices.Contains(toAdd, "cpu") {
			why = append(why, fmt.Sprintf("systemd %d delegates only memory and pids by default; cpu is delegated by default since 252", v))
		}
	}
	if len(noKernel) > 0 {
		why = append(why, fmt.Sprintf("the kernel offers no %s in /%s/cgroup.controllers", strings.Join(noKernel, " "), d.v2mount))
	}
	if len(noSystemd) > 0 {
		why = append(why, fmt.Sprintf("systemd cannot delegate %s (systemd#16325)", strings.Join(noSystemd, " ")))
	}
	missing := slices.Concat(toAdd, noKernel, noSystemd)
	var affected []string
	for _, c := range missing {
		if f, ok := flags[c]; ok {
			affected = append(affected, f)
		}
	}
	detail := fmt.Sprintf("%s not delegated to %s: %s", strings.Join(sortControllers(missing), " "), d.userRef, listed)
	if len(affected) > 0 {
		detail += fmt.Sprintf(", so docker run %s are refused or ignored", strings.Join(affected, ", "))
	}
	detail += "; " + strings.Join(why, "; ")
	var fix []string
	if len(toAdd) > 0 {
		fix = append(fix, d.dropInFix(union(fixable, r.Delegated), toAdd))
	}
	if len(noKernel) > 0 {
		fix = append(fix, fmt.Sprintf("# for %s: make sure no cgroup v1 hierarchy holds it (grep cgroup /proc/self/mountinfo) and the kernel command line has no cgroup_disable=%s", strings.Join(noKernel, " "), noKernel[0]))
	}
	if len(noSystemd) > 0 {
		fix = append(fix, fmt.Sprintf("# do not require %s: systemd cannot delegate it", strings.Join(noSystemd, " ")))
	}
	d.add(diag.Finding{ID: IDNotDelegated, Severity: diag.Warning, Detail: detail, Evidence: ev, Fix: strings.Join(fix, "\n")})
}

// fsTypes shows the filesystem type of each mount point, as statfs gives
// it: "/sys/fs/cgroup: tmpfs; /sys/fs/cgroup/unified: cgroup2".
func (d *detector) fsTypes(mounts ...string) string {
	var out []string
	for _, m := range mounts {
		magic, err := d.sys.statfs(m)
		if err != nil {
			out = append(out, fmt.Sprintf("/%s: %v", m, unwrapPath(err)))
			continue
		}
		out = append(out, fmt.Sprintf("/%s: %s", m, magicName(magic)))
	}
	return strings.Join(out, "; ")
}

// controllersEvidence shows dir's cgroup.controllers and its content.
func (d *detector) controllersEvidence(dir string, ctrls []string) string {
	return fmt.Sprintf("/%s/cgroup.controllers: %s", dir, listOr(ctrls, "(empty)"))
}

// delegateEvidence shows the Delegate= lines as file:line: Delegate=value,
// or the unit file that has none.
func (d *detector) delegateEvidence() string {
	if len(d.r.Assignments) == 0 {
		return d.evidence()
	}
	var ev []string
	for _, a := range d.r.Assignments {
		ev = append(ev, a.String())
	}
	return strings.Join(ev, "; ")
}

// ownerEvidence shows who owns each of paths (/sys/... paths).
func (d *detector) ownerEvidence(paths []string) string {
	var ev []string
	for _, p := range paths {
		uid, err := d.sys.owner(rel(p))
		if err != nil {
			ev = append(ev, fmt.Sprintf("%s: %v", p, unwrapPath(err)))
			continue
		}
		ev = append(ev, fmt.Sprintf("%s: owner uid %d", p, uid))
	}
	return strings.Join(ev, "; ")
}

// evidence lists the Delegate= lines as file:line, or says there are none.
func (d *detector) evidence() string {
	if len(d.r.Assignments) == 0 {
		if d.unitFile == "" {
			return "no user@.service unit file found"
		}
		return "no Delegate= in " + d.unitFile + " or its drop-ins"
	}
	var ev []string
	for _, a := range d.r.Assignments {
		ev = append(ev, fmt.Sprintf("%s:%d", a.File, a.Line))
	}
	return strings.Join(ev, ", ")
}

// dropInFix is the shell script that installs DropIn(ctrls) and, if a
// later drop-in would undo it, says which line to remove.
func (d *detector) dropInFix(ctrls, need []string) string {
	var ok []string
	for _, c := range ctrls {
		if Delegatable(c) {
			ok = append(ok, c)
		}
	}
	p, body, err := DropIn(ok...)
	if err != nil { // cannot happen: filtered above
		return err.Error()
	}
	var b strings.Builder
	for _, di := range d.dropIns {
		if di.path == p {
			fmt.Fprintf(&b, "# this replaces the existing %s\n", p)
		}
	}
	fmt.Fprintf(&b, "sudo mkdir -p %s\nsudo tee %s >/dev/null <<'EOF'\n%sEOF\nsudo systemctl daemon-reload\n", path.Dir(p), p, body)
	fmt.Fprintf(&b, "# then log out and back in (or reboot) if %s/cgroup.controllers still lacks %s",
		d.hostCgroupPath(d.r.ServiceCgroup), strings.Join(cmpSlice(need, ok), " "))
	ours := dropIn{path: p, prio: ourPrio}
	ours.assigns, _ = ParseUnit(p, strings.NewReader(string(body)))
	for _, di := range d.dropIns {
		if path.Base(di.path) == path.Base(p) && di.prio < ours.prio {
			fmt.Fprintf(&b, "\n# and remove %s: a drop-in of the same name there takes precedence over %s", di.path, p)
		}
	}
	if culprit := undoing(d.simulate(ours), p); culprit != nil {
		fmt.Fprintf(&b, "\n# and delete line %d of %s (\"Delegate=%s\"): it is applied after delegate.conf and undoes it", culprit.Line, culprit.File, culprit.Value)
	}
	return b.String()
}

func cmpSlice(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

// ourPrio is the priority of DropInPath's directory in unitDirs order:
// etc/systemd/system (index 3), template drop-in directory (1 of 3).
const ourPrio = 3*3 + 1

// simulate returns the assignments systemd would apply with extra added
// to the drop-ins.
func (d *detector) simulate(extra dropIn) []Assignment {
	main := d.r.Assignments[:len(d.r.Assignments)-countAssigns(d.dropIns)]
	dis := slices.DeleteFunc(slices.Clone(d.dropIns), func(di dropIn) bool { return di.path == extra.path })
	dis = effectiveDropIns(append(dis, extra))
	as := slices.Clone(main)
	for _, di := range dis {
		as = append(as, di.assigns...)
	}
	return as
}

func countAssigns(dis []dropIn) int {
	n := 0
	for _, di := range dis {
		n += len(di.assigns)
	}
	return n
}

// undoing returns the last assignment after those of file that resets or
// disables delegation, or nil.
func undoing(as []Assignment, file string) *Assignment {
	after := -1
	for i, a := range as {
		if a.File == file {
			after = i
		}
	}
	if after < 0 {
		return nil // shadowed; reported separately
	}
	var culprit *Assignment
	for i := after + 1; i < len(as); i++ {
		v := strings.TrimSpace(as[i].Value)
		if b, ok := parseBool(v); v == "" || ok && !b {
			culprit = &as[i]
		}
	}
	return culprit
}

func union(a, b []string) []string { return sortControllers(slices.Concat(a, b)) }

func listOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, " ")
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
