package cgroupdeleg

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
)

// Report is what [Detect] found about one user on one host. Cgroup paths
// (ServiceCgroup, Cgroup, OwnCgroup, CgroupRoot) are as /proc/self/cgroup
// shows them, relative to the cgroup root; the files are below
// /sys/fs/cgroup (Unified) or /sys/fs/cgroup/unified (Hybrid).
type Report struct {
	UID    int
	User   string   // login name; "" if unknown
	Wanted []string // the controllers asked for, in systemd's order
	Mode   Mode

	// Systemd reports that systemd is PID 1 (/run/systemd/system is a
	// directory). Without it, rootless dockerd uses no cgroups at all.
	Systemd bool
	// SystemdVersion is the installed systemd's major version, from the
	// name of libsystemd-shared-VERSION.so; 0 if unknown.
	SystemdVersion int
	// Delegate is Delegate= of user@UID.service as its unit file and
	// drop-ins configure it, which the running manager may predate.
	Delegate Delegate
	// Assignments are the Delegate= lines behind Delegate, in the order
	// systemd applies them.
	Assignments []Assignment
	// UserManager reports that the user's systemd manager (user@UID.service)
	// is running: its cgroup or its private socket exists.
	UserManager bool
	// RuntimeDir is $XDG_RUNTIME_DIR of the environment dockerd will get;
	// "" if unset.
	RuntimeDir string
	// UserBus is the socket of the user's D-Bus session bus that
	// dockerd's environment leads to; "" if there is none.
	UserBus string
	// Linger reports /var/lib/systemd/linger/USER: the user manager runs
	// without a login session.
	Linger bool

	// CgroupRoot is the cgroup that holds systemd's tree: "/" normally,
	// "/wsl-user/distro-3/systemd" when systemd runs nested (WSL 2.9).
	CgroupRoot string
	// ServiceCgroup is the cgroup of user@UID.service; "" if not found.
	ServiceCgroup string
	// Cgroup is the cgroup that Available and Delegated describe:
	// ServiceCgroup, or OwnCgroup when there is no user manager.
	Cgroup string
	// Available lists Cgroup's cgroup.controllers.
	Available []string
	// Delegated lists the Available controllers the user can use: all of
	// them if the user owns Cgroup and its cgroup.procs and
	// cgroup.subtree_control (and the other cgroup.* files in
	// /sys/kernel/cgroup/delegate), none otherwise.
	Delegated []string
	// Missing is Wanted minus Delegated.
	Missing []string
	// NotOwned lists delegation files (/sys/... paths) of Cgroup that the
	// user does not own.
	NotOwned []string
	// OwnCgroup is this process's cgroup (the "0::" line of
	// /proc/self/cgroup); "" on Legacy and Unavailable hosts.
	OwnCgroup string
	// OwnCgroupWritable reports that the user owns OwnCgroup and its
	// cgroup.procs, so it could create sub-cgroups and move processes.
	OwnCgroupWritable bool

	// Findings lists what needs attention, errors first; each has an ID
	// from [IDs].
	Findings []*diag.Finding
}

// Err returns the findings of severity diag.Error joined with errors.Join,
// or nil if there are none. Each joined error is a *diag.Finding.
func (r *Report) Err() error {
	var errs []error
	for _, f := range r.Findings {
		if f.Severity == diag.Error {
			errs = append(errs, f)
		}
	}
	return errors.Join(errs...)
}

// Finding returns the first finding with the given id, or nil.
func (r *Report) Finding(id diag.ID) *diag.Finding {
	for _, f := range r.Findings {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// Detect inspects sys, read-only, for how far uid can use cgroup
// controllers under rootless Docker, and what to do about what is missing.
// wanted names kernel cgroup v2 controllers; with none it wants
// [DefaultControllers] (cpu cpuset io memory pids).
//
// Only a canceled ctx, a nil sys or invalid arguments make Detect fail.
// Unreadable files and odd content become findings; the report is as
// complete as the host allows.
func Detect(ctx context.Context, sys *Sys, uid int, wanted ...string) (*Report, error) {
	if sys == nil || sys.FS == nil {
		return nil, errors.New("cgroupdeleg: Detect: no Sys (use Host() or Fixture(fsys))")
	}
	if uid < 0 {
		return nil, fmt.Errorf("cgroupdeleg: Detect: invalid uid %d (want os.Getuid() or another uid >= 0)", uid)
	}
	for _, w := range wanted {
		if w == "" || strings.ContainsAny(w, " \t\n/") {
			return nil, fmt.Errorf("cgroupdeleg: Detect: invalid controller name %q (want kernel names such as cpu, io, memory)", w)
		}
	}
	if len(wanted) == 0 {
		wanted = defaultWanted
	}
	d := &detector{sys: sys, r: &Report{UID: uid, Wanted: sortControllers(wanted), CgroupRoot: "/"}, mountRoot: "/"}
	for _, step := range []func(){d.mode, d.user, d.systemd, d.units, d.cgroups, d.session, d.findings} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		step()
	}
	slices.SortStableFunc(d.r.Findings, func(a, b *diag.Finding) int { return cmp.Compare(b.Severity, a.Severity) })
	return d.r, nil
}

type detector struct {
	sys       *Sys
	r         *Report
	modeErr   error
	v2mount   string // fs name of the cgroup2 mount; "" on Legacy and Unavailable
	mountRoot string // root of that mount within the hierarchy
	userRef   string // login name, or the uid if unknown
	versionAt string // file the systemd version came from
	kernel    []string
	kernelOK  bool
	dropIns   []dropIn // effective drop-ins in application order
	unitFile  string
	pid1      string // the "0::" path of /proc/1/cgroup
	svcDir    string // fs name of Cgroup's directory
	ownsCg    bool   // the user owns Cgroup's required delegation files
}

type dropIn struct {
	path    string       // absolute
	prio    int          // lower wins for the same base name
	assigns []Assignment // none if unreadable or unparsable; it still shadows same-named drop-ins
}

func (d *detector) add(f diag.Finding) { d.r.Findings = append(d.r.Findings, &f) }

// readFile reads name, turning errors other than "does not exist" into an
// Unreadable finding.
func (d *detector) readFile(name string) ([]byte, bool) {
	b, err := fs.ReadFile(d.sys.FS, name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.add(diag.Finding{ID: IDUnreadable, Severity: diag.Warning, Err: err, Evidence: "/" + name,
				Detail: fmt.Sprintf("cannot read /%s: %v; the report may be incomplete", name, unwrapPath(err)),
				Fix:    "run the check as the user who will run dockerd, on the host itself (not in a container with masked /proc or /sys)"})
		}
		return nil, false
	}
	return b, true
}

func (d *detector) mode() {
	d.r.Mode, d.modeErr = DetectMode(d.sys)
	switch d.r.Mode {
	case Unified:
		d.v2mount = cgroupMount
	case Hybrid:
		d.v2mount = unifiedMount
	default:
		return
	}
	if f, err := d.sys.FS.Open("proc/self/mountinfo"); err == nil {
		if root, ok := mountRoot(f, "/"+d.v2mount); ok && strings.HasPrefix(root, "/") {
			d.mountRoot = path.Clean(root)
		}
		f.Close()
	}
	if b, ok := d.readFile(d.v2mount + "/cgroup.controllers"); ok {
		d.kernel, d.kernelOK = strings.Fields(string(b)), true
	}
}

func (d *detector) user() {
	d.userRef = strconv.Itoa(d.r.UID)
	if name, err := d.sys.username(d.r.UID); err == nil && name != "" {
		d.r.User, d.userRef = name, name
	}
}

var libsystemdGlobs = []string{
	"usr/lib/systemd/libsystemd-shared-*.so",
	"usr/lib/*/systemd/libsystemd-shared-*.so",
	"usr/lib64/systemd/libsystemd-shared-*.so",
	"lib/systemd/libsystemd-shared-*.so",
	"lib/*/systemd/libsystemd-shared-*.so",
}

func (d *detector) systemd() {
	d.r.Systemd = d.sys.isDir("run/systemd/system")
	for _, g := range libsystemdGlobs {
		ms := d.globLib(g)
		for _, m := range ms {
			v := strings.TrimSuffix(strings.TrimPrefix(path.Base(m), "libsystemd-shared-"), ".so")
			if n, err := ParseSystemdVersion(v); err == nil && n > d.r.SystemdVersion {
				d.r.SystemdVersion, d.versionAt = n, "/"+m
			}
		}
	}
}

// globLib is fs.Glob for the patterns of libsystemdGlobs, except that the "*" of a multiarch
// directory (lib/*/systemd) only tries the directories named like a multiarch tuple
// (x86_64-linux-gnu): /usr/lib/x86_64-linux-gnu alone has a thousand entries, and reading
// every directory of /usr/lib for a "systemd" entry made this the slowest part of Detect.
func (d *detector) globLib(g string) []string {
	dir, rest, ok := strings.Cut(g, "/*/")
	if !ok {
		ms, _ := fs.Glob(d.sys.FS, g)
		return ms
	}
	entries, err := fs.ReadDir(d.sys.FS, dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if !strings.Contains(e.Name(), "-linux") {
			continue
		}
		ms, _ := fs.Glob(d.sys.FS, dir+"/"+e.Name()+"/"+rest)
		out = append(out, ms...)
	}
	return out
}

// unitDirs are systemd's system unit search path, highest priority first.
var unitDirs = []string{
	"etc/systemd/system.control",
	"run/systemd/system.control",
	"run/systemd/transient",
	"etc/systemd/system",
	"run/systemd/system",
	"usr/local/lib/systemd/system",
	"usr/lib/systemd/system",
	"lib/systemd/system",
}

// units reads Delegate= of user@UID.service from its unit file and
// drop-ins, in systemd's order.
func (d *detector) units() {
	inst := fmt.Sprintf("user@%d.service", d.r.UID)
	var main []Assignment
find:
	for _, name := range []string{inst, "user@.service"} {
		for _, dir := range unitDirs {
			p := dir + "/" + name
			if fi, err := fs.Stat(d.sys.FS, p); err != nil || fi.IsDir() {
				continue
			}
			d.unitFile = "/" + p
			main, _ = d.parseUnit(p)
			break find
		}
	}
	var all []dropIn
	for i, dir := range unitDirs {
		for j, sub := range []string{inst + ".d", "user@.service.d", "service.d"} {
			p := dir + "/" + sub
			ents, err := fs.ReadDir(d.sys.FS, p)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if e.IsDir() || !strings.HasSuffix(e.Name(), ".conf") {
					continue
				}
				as, _ := d.parseUnit(p + "/" + e.Name())
				all = append(all, dropIn{path: "/" + p + "/" + e.Name(), prio: i*3 + j, assigns: as})
			}
		}
	}
	d.dropIns = effectiveDropIns(all)
	d.r.Assignments = slices.Clone(main)
	for _, di := range d.dropIns {
		d.r.Assignments = append(d.r.Assignments, di.assigns...)
	}
	d.r.Delegate = delegateOf(d.r.Assignments)
	for _, a := range d.r.Assignments {
		if inv := ParseDelegate(a.Value).Invalid; len(inv) > 0 {
			d.add(diag.Finding{ID: IDInvalidDelegate, Severity: diag.Info, Evidence: a.String(),
				Detail: fmt.Sprintf("%s:%d: systemd ignores %s in Delegate= (\"Invalid controller name\"; hugetlb cannot be delegated, systemd#16325)", a.File, a.Line, quoteList(inv)),
				Fix:    fmt.Sprintf("remove %s from line %d of %s", strings.Join(inv, " "), a.Line, a.File)})
		}
	}
}

// effectiveDropIns keeps, per base name, the drop-in from the
// highest-priority directory and orders them by base name, as systemd does.
func effectiveDropIns(all []dropIn) []dropIn {
	slices.SortStableFunc(all, func(a, b dropIn) int {
		if c := strings.Compare(path.Base(a.path), path.Base(b.path)); c != 0 {
			return c
		}
		return a.prio - b.prio
	})
	return slices.CompactFunc(all, func(a, b dropIn) bool { return path.Base(a.path) == path.Base(b.path) })
}

func delegateOf(as []Assignment) Delegate {
	vs := make([]string, len(as))
	for i, a := range as {
		vs[i] = a.Value
	}
	return ParseDelegate(vs...)
}

func (d *detector) parseUnit(name string) ([]Assignment, bool) {
	b, ok := d.readFile(name)
	if !ok {
		return nil, false
	}
	as, err := ParseUnit("/"+name, strings.NewReader(string(b)))
	if err != nil {
		d.add(diag.Finding{ID: IDUnparsable, Severity: diag.Warning, Err: err, Evidence: "/" + name,
			Detail: fmt.Sprintf("cannot parse /%s (%v); it was skipped, so its Delegate= lines, if any, are missing from this report", name, errors.Unwrap(err)),
			Fix:    "check the file with: systemd-analyze verify /" + name})
		return nil, false
	}
	return as, true
}

// cgDir maps a cgroup path from /proc/self/cgroup to its directory in FS.
func (d *detector) cgDir(p string) (string, bool) {
	if d.v2mount == "" || !strings.HasPrefix(p, "/") {
		return "", false
	}
	p = path.Clean(p)
	if p == "/.." || strings.HasPrefix(p, "/../") {
		return "", false // outside this cgroup namespace
	}
	rest := p
	if d.mountRoot != "/" {
		switch {
		case p == d.mountRoot:
			rest = "/"
		case strings.HasPrefix(p, d.mountRoot+"/"):
			rest = strings.TrimPrefix(p, d.mountRoot)
		default:
			return "", false
		}
	}
	return path.Join(d.v2mount, rest), true
}

func (d *detector) owned(name string) bool {
	uid, err := d.sys.owner(name)
	return err == nil && uid == d.r.UID
}

func (d *detector) cgroups() {
	r := d.r
	var own, pid1 Proc
	if b, ok := d.readFile("proc/self/cgroup"); ok {
		var err error
		own, err = ParseProcCgroup(strings.NewReader(string(b)))
		if err != nil {
			d.add(diag.Finding{ID: IDUnparsable, Severity: diag.Info, Err: err, Evidence: "/proc/self/cgroup",
				Detail: "/proc/self/cgroup has malformed lines, which were skipped: " +
					strings.ReplaceAll(strings.ReplaceAll(err.Error(), "cgroupdeleg: /proc/self/cgroup:", "line "), "\n", "; "),
				Fix: "# /proc/self/cgroup comes from the kernel: check that /proc is the host's procfs, not an emulation (gVisor, a container's fake /proc)"})
		}
	}
	if b, ok := d.readFile("proc/1/cgroup"); ok {
		pid1, _ = ParseProcCgroup(strings.NewReader(string(b)))
		d.pid1 = pid1.V2
	}
	svcRel := fmt.Sprintf("user.slice/user-%d.slice/user@%d.service", r.UID, r.UID)
	if d.r.Mode == Legacy && d.sys.isDir("sys/fs/cgroup/systemd/"+svcRel) {
		r.UserManager = true
	}
	if d.v2mount == "" {
		r.Missing = slices.Clone(r.Wanted)
		return
	}
	r.OwnCgroup = own.V2
	switch {
	case strings.HasSuffix(pid1.V2, "/init.scope"):
		r.CgroupRoot = path.Dir(pid1.V2)
	case strings.Contains(own.V2, "/user.slice/"):
		r.CgroupRoot = cmp.Or(own.V2[:strings.Index(own.V2, "/user.slice/")], "/")
	}
	if r.CgroupRoot == "/.." || strings.HasPrefix(r.CgroupRoot, "/../") {
		r.CgroupRoot = "/"
	}
	ownDir, ownOK := d.cgDir(own.V2)
	ownOK = ownOK && d.sys.isDir(ownDir)
	r.OwnCgroupWritable = ownOK && d.owned(ownDir) && d.owned(ownDir+"/cgroup.procs")

	svc := path.Join(r.CgroupRoot, svcRel)
	if dir, ok := d.cgDir(svc); ok && d.sys.isDir(dir) {
		r.ServiceCgroup, r.UserManager = svc, true
	}
	dir := ""
	switch {
	case r.ServiceCgroup != "":
		r.Cgroup = r.ServiceCgroup
		dir, _ = d.cgDir(r.ServiceCgroup)
	case ownOK:
		r.Cgroup, dir = r.OwnCgroup, ownDir
	default:
		r.Missing = slices.Clone(r.Wanted)
		return
	}
	if b, ok := d.readFile(dir + "/cgroup.controllers"); ok {
		r.Available = sortControllers(strings.Fields(string(b)))
	}
	required := []string{"cgroup.procs", "cgroup.subtree_control", "cgroup.threads"}
	var optional []string
	if b, ok := d.readFile("sys/kernel/cgroup/delegate"); ok {
		required, optional = nil, nil
		for _, f := range strings.Fields(string(b)) {
			if strings.HasPrefix(f, "cgroup.") {
				required = append(required, f)
			} else {
				optional = append(optional, f)
			}
		}
	}
	ok := true
	if !d.owned(dir) {
		ok = false
		r.NotOwned = append(r.NotOwned, "/"+dir)
	}
	for _, f := range required {
		p := dir + "/" + f
		if f == "cgroup.threads" && !d.sys.exists(p) {
			continue
		}
		if !d.owned(p) {
			ok = false
			r.NotOwned = append(r.NotOwned, "/"+p)
		}
	}
	for _, f := range optional {
		if p := dir + "/" + f; d.sys.exists(p) && !d.owned(p) {
			r.NotOwned = append(r.NotOwned, "/"+p)
		}
	}
	d.svcDir, d.ownsCg = dir, ok
	if ok {
		r.Delegated = r.Available
	}
	for _, w := range r.Wanted {
		if !slices.Contains(r.Delegated, w) {
			r.Missing = append(r.Missing, w)
		}
	}
}

func (d *detector) session() {
	r := d.r
	if d.sys.exists(fmt.Sprintf("run/user/%d/systemd/private", r.UID)) {
		r.UserManager = true
	}
	r.RuntimeDir = d.sys.getenv("XDG_RUNTIME_DIR")
	bus := ""
	if addr := d.sys.getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" {
		p, abstract := busPath(addr)
		switch {
		case p != "":
			bus = p
		case abstract:
			r.UserBus = addr // cannot be checked in a filesystem
		}
	} else if r.RuntimeDir != "" {
		bus = path.Join(r.RuntimeDir, "bus")
	} else {
		bus = fmt.Sprintf("/run/user/%d/bus", r.UID)
	}
	if bus != "" {
		if fi, err := fs.Stat(d.sys.FS, rel(bus)); err == nil && !fi.IsDir() {
			r.UserBus = bus
		}
	}
	if r.User != "" {
		r.Linger = d.sys.exists("var/lib/systemd/linger/" + r.User)
	}
}
