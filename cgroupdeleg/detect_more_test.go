package cgroupdeleg_test

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
)

const svc = "sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service"

// v2Host is a small systemd + cgroup v2 host on which alice (1000) owns
// user@1000.service with memory and pids, like systemd 249's defaults.
func v2Host() (files map[string]string, manifest []string) {
	files = map[string]string{
		"sys/fs/cgroup/cgroup.controllers":                                      "cpuset cpu io memory hugetlb pids\n",
		"sys/fs/cgroup/user.slice/user-1000.slice/cgroup.controllers":           "cpu io memory pids\n",
		svc + "/cgroup.controllers":                                             "memory pids\n",
		svc + "/cgroup.procs":                                                   "",
		svc + "/cgroup.subtree_control":                                         "memory pids\n",
		svc + "/cgroup.threads":                                                 "",
		svc + "/memory.reclaim":                                                 "",
		"sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/cgroup.procs": "",
		"sys/kernel/cgroup/delegate":                                            "cgroup.procs\ncgroup.threads\ncgroup.subtree_control\nmemory.reclaim\n",
		"proc/self/cgroup":                                                      "0::/user.slice/user-1000.slice/session-3.scope\n",
		"proc/1/cgroup":                                                         "0::/init.scope\n",
		"run/systemd/system/session-3.scope":                                    "",
		"run/user/1000/bus":                                                     "",
		"var/lib/systemd/linger/alice":                                          "",
		"etc/passwd":                                                            "alice:x:1000:1000::/home/alice:/bin/sh\n",
		"lib/systemd/system/user@.service":                                      "[Service]\nDelegate=pids memory\n",
		"usr/lib/systemd/libsystemd-shared-249.so":                              "",
	}
	manifest = []string{
		"statfs sys/fs/cgroup cgroup2",
		"owner 1000 " + svc,
		"env XDG_RUNTIME_DIR=/run/user/1000",
	}
	return files, manifest
}

func mapSys(t *testing.T, files map[string]string, manifest []string) *cgroupdeleg.Sys {
	t.Helper()
	m := fstest.MapFS{"fixture.txt": {Data: []byte(strings.Join(manifest, "\n") + "\n")}}
	for name, data := range files {
		m["root/"+name] = &fstest.MapFile{Data: []byte(data)}
	}
	sys, err := cgroupdeleg.Fixture(m)
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

func TestDetectModeInputs(t *testing.T) {
	for _, tt := range []struct {
		name     string
		statfs   []string
		noCgroup bool
		want     cgroupdeleg.Mode
		errIs    error
	}{
		{name: "cgroup2 (C1)", statfs: []string{"statfs sys/fs/cgroup cgroup2"}, want: cgroupdeleg.Unified},
		{name: "tmpfs + unified cgroup2", statfs: []string{"statfs sys/fs/cgroup tmpfs", "statfs sys/fs/cgroup/unified cgroup2"}, want: cgroupdeleg.Hybrid},
		{name: "tmpfs, unified is not cgroup2", statfs: []string{"statfs sys/fs/cgroup tmpfs", "statfs sys/fs/cgroup/unified tmpfs"}, want: cgroupdeleg.Legacy},
		{name: "tmpfs, no unified", statfs: []string{"statfs sys/fs/cgroup tmpfs"}, want: cgroupdeleg.Legacy},
		{name: "v1 hierarchy mounted at the top", statfs: []string{"statfs sys/fs/cgroup cgroup"}, want: cgroupdeleg.Legacy},
		{name: "EACCES is Unavailable, not v1", statfs: []string{"statfs sys/fs/cgroup EACCES"}, want: cgroupdeleg.Unavailable, errIs: fs.ErrPermission},
		{name: "missing is Unavailable", noCgroup: true, want: cgroupdeleg.Unavailable, errIs: fs.ErrNotExist},
		{name: "plain sysfs directory", statfs: []string{"statfs sys sysfs"}, want: cgroupdeleg.Unavailable},
		{name: "hex magic", statfs: []string{"statfs sys/fs/cgroup 0x63677270"}, want: cgroupdeleg.Unified},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{
				"sys/fs/cgroup/cgroup.procs":               "",
				"sys/fs/cgroup/unified/cgroup.controllers": "",
				"proc/self/cgroup":                         "0::/\n",
			}
			if tt.noCgroup {
				files = map[string]string{"sys/kernel/x": ""}
			}
			sys := mapSys(t, files, tt.statfs)
			m, err := cgroupdeleg.DetectMode(sys)
			if m != tt.want {
				t.Errorf("DetectMode = %v, want %v", m, tt.want)
			}
			if (err != nil) != (m == cgroupdeleg.Unavailable) {
				t.Errorf("err = %v with mode %v; want an error exactly when Unavailable", err, m)
			}
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.errIs)
			}
			r := detect(t, sys, 0)
			if r.Mode != m {
				t.Errorf("Detect Mode = %v, DetectMode = %v", r.Mode, m)
			}
			if m == cgroupdeleg.Unavailable {
				f := r.Finding(cgroupdeleg.IDCgroupUnavailable)
				if f == nil || f.Severity != diag.Warning || tt.errIs != nil && !errors.Is(f, tt.errIs) {
					t.Errorf("finding %+v, want a cgroup-unavailable warning wrapping %v", f, tt.errIs)
				}
			}
		})
	}
}

func TestDetectModeWithoutStatfs(t *testing.T) {
	m, err := cgroupdeleg.DetectMode(&cgroupdeleg.Sys{FS: fstest.MapFS{}})
	if m != cgroupdeleg.Unavailable || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("DetectMode(no Statfs) = %v, %v; want Unavailable, ErrUnsupported", m, err)
	}
}

// A "0::" line in /proc/self/cgroup must not make a v1 host look unified (C2).
func TestDetectIgnoresV2LineOnLegacy(t *testing.T) {
	files, _ := v2Host()
	sys := mapSys(t, files, []string{"statfs sys/fs/cgroup tmpfs"})
	r := detect(t, sys, 1000)
	if r.Mode != cgroupdeleg.Legacy || len(r.Delegated) != 0 || r.OwnCgroup != "" {
		t.Errorf("Mode %v, Delegated %q, OwnCgroup %q; want legacy, none, none", r.Mode, r.Delegated, r.OwnCgroup)
	}
}

// Session scopes may list (and own) more controllers than user@.service
// has; Detect reports user@.service (C8).
func TestDetectSessionScopeOverReport(t *testing.T) {
	files, manifest := v2Host()
	scope := "sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope"
	files[scope+"/cgroup.controllers"] = "cpu io memory pids\n"
	files[scope+"/cgroup.subtree_control"] = ""
	manifest = append(manifest, "owner 1000 "+scope)
	r := detect(t, mapSys(t, files, manifest), 1000)
	if !slices.Equal(r.Delegated, []string{"memory", "pids"}) || r.Cgroup != "/user.slice/user-1000.slice/user@1000.service" {
		t.Errorf("Delegated = %q from %q, want memory pids from user@1000.service", r.Delegated, r.Cgroup)
	}
	if !r.OwnCgroupWritable {
		t.Error("own session scope is owned by alice but not reported writable")
	}
}

// The own cgroup is resolved against the mount's root (C3): in a cgroup
// namespace the mount shows a subtree.
func TestDetectMountRoot(t *testing.T) {
	files := map[string]string{
		"sys/fs/cgroup/cgroup.controllers":           "memory pids\n",
		"sys/fs/cgroup/cgroup.procs":                 "",
		"sys/fs/cgroup/cgroup.subtree_control":       "",
		"sys/fs/cgroup/inner/cgroup.controllers":     "memory\n",
		"sys/fs/cgroup/inner/cgroup.procs":           "",
		"sys/fs/cgroup/inner/cgroup.subtree_control": "",
		"proc/self/mountinfo":                        "30 22 0:26 /ctr\\040x /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
	}
	for _, tt := range []struct {
		own, cgroup string
		available   []string
		writable    bool
	}{
		{own: "/ctr x/inner", cgroup: "/ctr x/inner", available: []string{"memory"}, writable: true},
		{own: "/ctr x", cgroup: "/ctr x", available: []string{"memory", "pids"}, writable: true},
		{own: "/elsewhere", cgroup: ""},
		{own: "/../outside", cgroup: ""},
	} {
		files["proc/self/cgroup"] = "0::" + tt.own + "\n"
		r := detect(t, mapSys(t, files, []string{"statfs sys/fs/cgroup cgroup2", "owner 1000 sys/fs/cgroup/inner", "owner 1000 sys/fs/cgroup"}), 1000)
		if r.Cgroup != tt.cgroup || !slices.Equal(r.Available, tt.available) || r.OwnCgroupWritable != tt.writable {
			t.Errorf("own %q: Cgroup %q, Available %q, writable %v; want %q, %q, %v",
				tt.own, r.Cgroup, r.Available, r.OwnCgroupWritable, tt.cgroup, tt.available, tt.writable)
		}
	}
}

func TestDetectDelegatePending(t *testing.T) {
	files, manifest := v2Host()
	files["etc/systemd/system/user@.service.d/delegate.conf"] = "[Service]\nDelegate=cpu io memory pids\n"
	r := detect(t, mapSys(t, files, manifest), 1000, "cpu", "io", "memory")
	if got := ids(r); !slices.Equal(got, []diag.ID{cgroupdeleg.IDDelegatePending}) {
		t.Fatalf("findings %q, want only delegate-pending:\n%s", got, r)
	}
	f := r.Findings[0]
	if !strings.Contains(f.Detail, "/etc/systemd/system/user@.service.d/delegate.conf:2") ||
		!strings.Contains(f.Fix, "sudo systemctl restart user@1000.service") {
		t.Errorf("detail/fix lack evidence or remedy:\n%s\n%s", f.Detail, f.Fix)
	}
}

func TestDetectOptionalDelegateFileNotOwned(t *testing.T) {
	files, manifest := v2Host()
	manifest = append(manifest, "owner 0 "+svc+"/memory.reclaim")
	r := detect(t, mapSys(t, files, manifest), 1000, "memory")
	if !slices.Equal(r.Delegated, []string{"memory", "pids"}) {
		t.Errorf("Delegated = %q; a root-owned memory.reclaim must not undo delegation", r.Delegated)
	}
	if f := r.Finding(cgroupdeleg.IDNotOwned); f == nil || f.Severity != diag.Info || !strings.Contains(f.Detail, "memory.reclaim") {
		t.Errorf("want an info not-owned finding naming memory.reclaim, got %+v", f)
	}
}

// A root-owned cgroup.procs undoes delegation (C7), even if the directory
// is the user's.
func TestDetectCgroupProcsNotOwned(t *testing.T) {
	files, manifest := v2Host()
	manifest = append(manifest, "owner 0 "+svc+"/cgroup.procs")
	r := detect(t, mapSys(t, files, manifest), 1000)
	if len(r.Delegated) != 0 || !slices.Equal(r.NotOwned, []string{"/" + svc + "/cgroup.procs"}) {
		t.Errorf("Delegated %q, NotOwned %q", r.Delegated, r.NotOwned)
	}
	if f := r.Finding(cgroupdeleg.IDNotOwned); f == nil || f.Severity != diag.Warning {
		t.Errorf("want a not-owned warning, got %+v", f)
	}
}

// Without /sys/kernel/cgroup/delegate the fixed list is used.
func TestDetectWithoutDelegateFile(t *testing.T) {
	files, manifest := v2Host()
	delete(files, "sys/kernel/cgroup/delegate")
	manifest = append(manifest, "owner 0 "+svc+"/cgroup.subtree_control")
	r := detect(t, mapSys(t, files, manifest), 1000)
	if len(r.Delegated) != 0 || !slices.Equal(r.NotOwned, []string{"/" + svc + "/cgroup.subtree_control"}) {
		t.Errorf("Delegated %q, NotOwned %q", r.Delegated, r.NotOwned)
	}
}

func TestDetectWanted(t *testing.T) {
	files, manifest := v2Host()
	sys := mapSys(t, files, manifest)
	r := detect(t, sys, 1000, "pids", "memory", "memory")
	if !slices.Equal(r.Wanted, []string{"memory", "pids"}) || len(r.Missing) != 0 || r.Finding(cgroupdeleg.IDNotDelegated) != nil {
		t.Errorf("Wanted %q Missing %q findings %q", r.Wanted, r.Missing, ids(r))
	}

	r = detect(t, sys, 1000, "memory", "hugetlb", "io")
	f := r.Finding(cgroupdeleg.IDNotDelegated)
	if f == nil || !strings.Contains(f.Detail, "systemd cannot delegate hugetlb") ||
		!strings.Contains(f.Fix, "Delegate=io memory pids") || strings.Contains(f.Fix, "Delegate=hugetlb") {
		t.Errorf("hugetlb wanted: %+v", f)
	}

	files["sys/fs/cgroup/cgroup.controllers"] = "cpuset cpu memory pids\n"
	r = detect(t, mapSys(t, files, manifest), 1000, "io")
	f = r.Finding(cgroupdeleg.IDNotDelegated)
	if f == nil || !strings.Contains(f.Detail, "the kernel offers no io") || strings.Contains(f.Fix, "delegate.conf") {
		t.Errorf("io not in the kernel: %+v", f)
	}
}

// A drop-in of the same name in a higher-priority directory shadows ours.
func TestDetectShadowedDropIn(t *testing.T) {
	files, manifest := v2Host()
	files["etc/systemd/system.control/user@.service.d/delegate.conf"] = "[Service]\nDelegate=no\n"
	r := detect(t, mapSys(t, files, manifest), 1000)
	f := r.Finding(cgroupdeleg.IDNotDelegated)
	if f == nil || !strings.Contains(f.Fix, "remove /etc/systemd/system.control/user@.service.d/delegate.conf") {
		t.Errorf("want the fix to name the shadowing drop-in, got %+v", f)
	}
	if r.Delegate.On {
		t.Errorf("Delegate = %v, want no", r.Delegate)
	}
}

// Drop-ins of the same name: /etc beats /run beats /usr/lib; the instance
// directory beats the template directory; files apply in name order (C9).
func TestDetectDropInOrder(t *testing.T) {
	files, manifest := v2Host()
	files["usr/lib/systemd/system/user@.service.d/10-a.conf"] = "[Service]\nDelegate=cpuset\n"
	files["run/systemd/system/user@.service.d/10-a.conf"] = "[Service]\nDelegate=io\n"
	files["etc/systemd/system/user@1000.service.d/20-b.conf"] = "[Service]\nDelegate=\nDelegate=cpu\n"
	files["etc/systemd/system/user@.service.d/20-b.conf"] = "[Service]\nDelegate=no\n"
	files["etc/systemd/system/user@.service.d/30-c.conf"] = "[Service]\nDelegate=memory\n"
	files["etc/systemd/system/user@.service.d/notconf.txt"] = "[Service]\nDelegate=no\n"
	files["etc/systemd/system/user@1001.service.d/05.conf"] = "[Service]\nDelegate=no\n"
	r := detect(t, mapSys(t, files, manifest), 1000)
	var got []string
	for _, a := range r.Assignments {
		got = append(got, a.String())
	}
	want := []string{
		"/lib/systemd/system/user@.service:2: Delegate=pids memory",
		"/run/systemd/system/user@.service.d/10-a.conf:2: Delegate=io",
		"/etc/systemd/system/user@1000.service.d/20-b.conf:2: Delegate=",
		"/etc/systemd/system/user@1000.service.d/20-b.conf:3: Delegate=cpu",
		"/etc/systemd/system/user@.service.d/30-c.conf:2: Delegate=memory",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Assignments =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Delegate.String() != "cpu memory" {
		t.Errorf("Delegate = %v, want cpu memory", r.Delegate)
	}
}

func TestDetectUnitFilePrecedence(t *testing.T) {
	files, manifest := v2Host()
	files["etc/systemd/system/user@.service"] = "[Service]\nDelegate=yes\n"
	r := detect(t, mapSys(t, files, manifest), 1000)
	if len(r.Assignments) != 1 || r.Assignments[0].File != "/etc/systemd/system/user@.service" {
		t.Errorf("Assignments %q: /etc must override /lib", r.Assignments)
	}
	files["usr/lib/systemd/system/user@1000.service"] = "[Service]\nDelegate=cpu\n"
	r = detect(t, mapSys(t, files, manifest), 1000)
	if len(r.Assignments) != 1 || r.Assignments[0].File != "/usr/lib/systemd/system/user@1000.service" {
		t.Errorf("Assignments %q: an instance unit file beats the template", r.Assignments)
	}
}

func TestDetectUnparsableDropIn(t *testing.T) {
	files, manifest := v2Host()
	files["etc/systemd/system/user@.service.d/broken.conf"] = "[Service]\nDelegate\n"
	r := detect(t, mapSys(t, files, manifest), 1000)
	f := r.Finding(cgroupdeleg.IDUnparsable)
	if f == nil || f.Severity != diag.Warning || !strings.Contains(f.Detail, "/etc/systemd/system/user@.service.d/broken.conf") || f.Err == nil {
		t.Errorf("want an unparsable warning naming broken.conf, got %+v", f)
	}
}

func TestDetectBus(t *testing.T) {
	for _, tt := range []struct {
		name   string
		env    []string
		noBus  bool
		bus    string
		fixHas string // "" means no finding
	}{
		{name: "XDG_RUNTIME_DIR", env: []string{"env XDG_RUNTIME_DIR=/run/user/1000"}, bus: "/run/user/1000/bus"},
		{name: "unix:path with escapes", env: []string{"env DBUS_SESSION_BUS_ADDRESS=unix:path=%2frun/user/1000/bus,guid=1;tcp:host=x"}, bus: "/run/user/1000/bus"},
		{name: "abstract cannot be checked", env: []string{"env DBUS_SESSION_BUS_ADDRESS=unix:abstract=/tmp/dbus-x"}, noBus: true, bus: "unix:abstract=/tmp/dbus-x"},
		{name: "missing socket (dbus-user-session)", env: []string{"env XDG_RUNTIME_DIR=/run/user/1000"}, noBus: true, fixHas: "apt-get install -y dbus-user-session"},
		{name: "bus address to a missing path", env: []string{"env DBUS_SESSION_BUS_ADDRESS=unix:path=/tmp/nope"}, fixHas: "systemctl --user enable --now dbus"},
		{name: "env unset (su, C12)", fixHas: "export XDG_RUNTIME_DIR=/run/user/1000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files, manifest := v2Host()
			manifest = append(manifest[:2], tt.env...)
			if tt.noBus {
				delete(files, "run/user/1000/bus")
			}
			r := detect(t, mapSys(t, files, manifest), 1000)
			if tt.bus != "" && r.UserBus != tt.bus {
				t.Errorf("UserBus = %q, want %q", r.UserBus, tt.bus)
			}
			f := r.Finding(cgroupdeleg.IDNoUserBus)
			switch {
			case tt.fixHas == "" && f != nil:
				t.Errorf("unexpected finding %v", f)
			case tt.fixHas != "" && (f == nil || !strings.Contains(f.Remedy(), tt.fixHas) || f.Severity != diag.Error):
				t.Errorf("want a no-user-bus error with fix containing %q, got %+v", tt.fixHas, f)
			}
		})
	}
}

func TestDetectArguments(t *testing.T) {
	sys := fixture(t, "delegated")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cgroupdeleg.Detect(ctx, sys, 1000); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled ctx: err = %v", err)
	}
	for name, call := range map[string]func() error{
		"nil sys":    func() error { _, err := cgroupdeleg.Detect(context.Background(), nil, 1000); return err },
		"nil FS":     func() error { _, err := cgroupdeleg.Detect(context.Background(), &cgroupdeleg.Sys{}, 1000); return err },
		"negative":   func() error { _, err := cgroupdeleg.Detect(context.Background(), sys, -1); return err },
		"bad wanted": func() error { _, err := cgroupdeleg.Detect(context.Background(), sys, 1000, "cpu memory"); return err },
		"empty name": func() error { _, err := cgroupdeleg.Detect(context.Background(), sys, 1000, ""); return err },
	} {
		if err := call(); err == nil || !strings.HasPrefix(err.Error(), "cgroupdeleg: ") {
			t.Errorf("%s: err = %v, want a cgroupdeleg error", name, err)
		}
	}
}

// permFS denies reading one file, as an unreadable /proc or /sys would.
type permFS struct {
	fs.FS
	deny string
}

func (p permFS) Open(name string) (fs.File, error) {
	if name == p.deny {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	}
	return p.FS.Open(name)
}

func TestDetectUnreadable(t *testing.T) {
	sys := fixture(t, "delegated")
	sys.FS = permFS{FS: sys.FS, deny: "sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers"}
	r := detect(t, sys, 1000)
	f := r.Finding(cgroupdeleg.IDUnreadable)
	if f == nil || !errors.Is(f, fs.ErrPermission) || !strings.Contains(f.Detail, "cgroup.controllers") {
		t.Errorf("want an unreadable finding wrapping EACCES, got %+v", f)
	}
	if len(r.Delegated) != 0 {
		t.Errorf("Delegated = %q from an unreadable cgroup.controllers", r.Delegated)
	}
}

// Findings are errors carrying a remedy that other packages can reach
// without importing this one.
func TestFindingAsError(t *testing.T) {
	r := detect(t, fixture(t, "old-systemd"), 1000)
	err := r.Err()
	if err == nil {
		t.Fatal("Err() = nil")
	}
	var rem interface{ Remedy() string }
	if !errors.As(err, &rem) || !strings.Contains(rem.Remedy(), "dbus-user-session") {
		t.Errorf("errors.As(Remedy) = %v", rem)
	}
	f, ok := errors.AsType[*diag.Finding](err)
	if !ok || f.ID != cgroupdeleg.IDNoUserBus {
		t.Fatalf("AsType = %v, %v", f, ok)
	}
	msg := f.Error()
	if !strings.HasPrefix(msg, "cgroupdeleg.no-user-bus: no user D-Bus socket at /run/user/1000/bus") || !strings.Contains(msg, "; fix:\nsudo apt-get") {
		t.Errorf("Error() = %q", msg)
	}
	if !errors.Is(err, cgroupdeleg.IDNoUserBus) || errors.Is(err, cgroupdeleg.IDNoLinger) {
		t.Errorf("errors.Is does not tell the findings in Err() by ID: %v", err)
	}
	if f.Evidence != "/run/user/1000/bus: no such socket ($XDG_RUNTIME_DIR/bus)" {
		t.Errorf("Evidence = %q", f.Evidence)
	}
}

func TestFixtureManifestErrors(t *testing.T) {
	for _, bad := range []string{
		"statfs sys/fs/cgroup",
		"statfs sys/fs/cgroup nosuchfs",
		"statfs ../x cgroup2",
		"owner alice sys",
		"owner -1 sys",
		"owner 1000",
		"env NOEQUALS",
		"env =x",
		"mount sys cgroup2",
	} {
		_, err := cgroupdeleg.Fixture(fstest.MapFS{"fixture.txt": {Data: []byte("# ok\n\n" + bad + "\n")}})
		if err == nil || !strings.Contains(err.Error(), "fixture.txt:3:") {
			t.Errorf("%q: err = %v, want a fixture.txt:3 error", bad, err)
		}
	}
	if _, err := cgroupdeleg.Fixture(fstest.MapFS{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no manifest: err = %v", err)
	}
}

func TestFixtureSys(t *testing.T) {
	sys := mapSys(t, map[string]string{"a/b/c": "", "a/x": "", "etc/passwd": "bad line\n#c\nbob:x:7:7::/:/bin/sh\n"},
		[]string{"owner 5 a", "owner 6 /a/b/", "statfs a cgroup2", "env K=v=w"})
	for name, want := range map[string]int{"a": 5, "a/x": 5, "a/b": 6, "a/b/c": 6, "etc/passwd": 0} {
		if got, err := sys.Owner(name); err != nil || got != want {
			t.Errorf("Owner(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := sys.Owner("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Owner(missing) err = %v", err)
	}
	if m, err := sys.Statfs("a/b/c"); err != nil || m != cgroupdeleg.Cgroup2Magic {
		t.Errorf("Statfs(a/b/c) = %#x, %v", m, err)
	}
	if m, err := sys.Statfs("etc"); err != nil || m != 0xef53 {
		t.Errorf("Statfs(etc) = %#x, %v; want ext4", m, err)
	}
	if got := sys.Getenv("K"); got != "v=w" {
		t.Errorf("Getenv(K) = %q", got)
	}
	r := detect(t, sys, 7)
	if r.User != "bob" {
		t.Errorf("User = %q, want bob from etc/passwd", r.User)
	}
}
