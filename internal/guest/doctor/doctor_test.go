//go:build guest

// Package doctor holds the checks of rootless.Check that only the VM host's Debian 13 guest
// can show for real: systemd as init with cgroup v2, the user's systemd manager and D-Bus,
// lingering, and AppArmor's mediation of user namespaces (the fix Check prints, applied as
// printed, makes the engine work).
//
// The tests are plain Go tests with the build tag "guest", written for the VM host's harness
// (internal/guest, hack/vm): each says in which phase of one boot it runs. The user phases run
// as the guest's test user inside its systemd session; the root phase changes the guest.
// Outside the guest (no /etc/rootlessd-guest.conf) they skip, or fail when
// ROOTLESSD_REQUIRE_INTEGRATION=1.
//
//	phase "distro" (user):     TestDoctorGuestHealthy, TestDoctorGuestNoSession
//	phase "delegated" (user):  TestDoctorGuestDelegated (after the Delegate= drop-in)
//	phase "confined" (user):   TestDoctorGuestNamesDenial (the test binary confined by a
//	                           profile without userns: internal/guest's TestRootConfineWithoutUserns)
//	phase "allow" (root):      TestDoctorGuestRootAppliesFix (instead of TestRootAllowUserns:
//	                           it applies the fix that Check printed in the confined phase)
//	phase "allowed" (user):    TestDoctorGuestFixWorks
package doctor

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/rootless"
)

// guestConf exists only inside the guest that hack/vm/build makes.
const guestConf = "/etc/rootlessd-guest.conf"

// fixFile carries the fix Check printed in the confined phase to the root phase that applies
// it (the guest's /tmp lives for the whole boot).
const fixFile = "/tmp/rootlessd-doctor-apparmor-fix.sh"

func TestMain(m *testing.M) {
	rootless.Init() // the embedded engine re-runs this test binary
	os.Exit(m.Run())
}

func requireGuest(t *testing.T, root bool) {
	t.Helper()
	if _, err := os.Stat(guestConf); err != nil {
		msg := "not inside the VM host's guest (" + guestConf + " is missing)"
		if os.Getenv("ROOTLESSD_REQUIRE_INTEGRATION") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if root != (os.Geteuid() == 0) {
		t.Fatalf("this test runs in a %s phase (uid %d)", map[bool]string{true: "root", false: "user"}[root], os.Geteuid())
	}
}

func check(t *testing.T, opts ...rootless.Option) *rootless.Report {
	t.Helper()
	rep, err := rootless.Check(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		t.Logf("%s %s: %s (evidence: %s)", f.Severity, f.ID, f.Detail, f.Evidence)
	}
	return rep
}

func finding(rep *rootless.Report, id diag.ID) *diag.Finding {
	for _, f := range rep.Findings {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// TestDoctorGuestHealthy (phase "distro"): on Debian 13 with systemd, cgroup v2, AppArmor,
// lingering and Debian's engine, where Launch works, Check has no error-level finding with
// either engine; it predicts the systemd cgroup driver, overlay2, and ignored flags for the
// controllers trixie does not delegate by default (cpuset, io), and the daemon agrees.
func TestDoctorGuestHealthy(t *testing.T) {
	requireGuest(t, false)
	for _, engine := range []rootless.Engine{rootless.EngineAuto, rootless.EngineExternal} {
		rep := check(t, rootless.WithEngine(engine))
		if err := rep.Err(); err != nil {
			t.Errorf("engine %s: error-level findings on a healthy Debian 13 host: %v", engine, err)
		}
		for _, id := range []diag.ID{cgroupdeleg.IDNoSystemd, cgroupdeleg.IDNoUserManager, cgroupdeleg.IDNoUserBus, cgroupdeleg.IDNoLinger,
			rootless.IDAppArmorDeniesUserns, rootless.IDAppArmorNoProfile, rootless.IDStorageVFS} {
			if f := finding(rep, id); f != nil {
				t.Errorf("engine %s: %v on a healthy host", engine, f)
			}
		}
		c := rep.Docker.Cgroups
		if c.Driver != "systemd" || c.Version != 2 || slices.Contains(c.IgnoredFlags, "--memory") || !slices.Contains(c.IgnoredFlags, "--cpuset-cpus") {
			t.Errorf("engine %s: cgroups %+v; want systemd on v2, --memory kept and --cpuset-cpus ignored", engine, c)
		}
		if rep.Docker.Storage.Driver != "overlay2" {
			t.Errorf("engine %s: storage %+v; want overlay2 (kernel 6.12)", engine, rep.Docker.Storage)
		}
	}
	d, err := rootless.Launch(t.Context())
	if err != nil {
		t.Fatalf("Launch on the host Check calls healthy: %v", err)
	}
	defer d.Close()
	rep := check(t)
	info := d.Info()
	if info.CgroupDriver != rep.Docker.Cgroups.Driver || info.StorageDriver != rep.Docker.Storage.Driver {
		t.Errorf("the daemon says cgroup driver %q and storage %q; Check said %q and %q",
			info.CgroupDriver, info.StorageDriver, rep.Docker.Cgroups.Driver, rep.Docker.Storage.Driver)
	}
}

// TestDoctorGuestNoSession (phase "distro"): the environment sudo -iu and su give (no
// XDG_RUNTIME_DIR, no DBUS_SESSION_BUS_ADDRESS) on a cgroup v2 host is an error: the systemd
// cgroup driver cannot reach the user's manager, and the fix says how to log in instead.
func TestDoctorGuestNoSession(t *testing.T) {
	requireGuest(t, false)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			env = append(env, kv)
		}
	}
	rep := check(t, rootless.WithEnviron(env), rootless.WithStateDir(t.TempDir()))
	f := finding(rep, cgroupdeleg.IDNoUserBus)
	if f == nil || f.Severity != diag.Error || !strings.Contains(f.Fix, "ssh") || !strings.Contains(f.Fix, "machinectl shell") {
		t.Errorf("without a session's environment: %v; want an error whose fix logs in through ssh or machinectl", f)
	}
	if f := finding(rep, rootless.IDRuntimeDirUnset); f != nil {
		t.Errorf("%v with an explicit state directory", f)
	}
}

// TestDoctorGuestDelegated (phase "delegated", after the Delegate= drop-in): no run flag is
// ignored any more.
func TestDoctorGuestDelegated(t *testing.T) {
	requireGuest(t, false)
	rep := check(t)
	if c := rep.Docker.Cgroups; c.Driver != "systemd" || len(c.IgnoredFlags) > 0 {
		t.Errorf("cgroups %+v; want every controller delegated", c)
	}
	if f := finding(rep, cgroupdeleg.IDNotDelegated); f != nil {
		t.Errorf("%v after the drop-in", f)
	}
}

// TestDoctorGuestNamesDenial (phase "confined"): this binary runs under a profile without
// `userns,`. The embedded engine is refused up front with the profile's file and line and the
// exact fix; EngineAuto is only warned (it falls back to Debian's rootlesskit, whose profile
// allows userns); the external engine is fine. The fix goes to the root phase.
func TestDoctorGuestNamesDenial(t *testing.T) {
	requireGuest(t, false)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rep := check(t, rootless.WithEngine(rootless.EngineEmbedded))
	f := finding(rep, rootless.IDAppArmorDeniesUserns)
	if f == nil || f.Severity != diag.Error {
		t.Fatalf("the embedded engine under a profile without userns: %v; want an error %s", f, rootless.IDAppArmorDeniesUserns)
	}
	for _, want := range []string{"/etc/apparmor.d/", "userns,", "apparmor_parser -r", exe} {
		if !strings.Contains(f.Evidence+f.Fix, want) {
			t.Errorf("the finding does not name %q:\nevidence: %s\nfix:\n%s", want, f.Evidence, f.Fix)
		}
	}
	if _, err := rootless.Resolve(t.Context(), rootless.WithEngine(rootless.EngineEmbedded)); !errors.Is(err, rootless.IDAppArmorDeniesUserns) {
		t.Errorf("Resolve: %v; want the refusal", err)
	}
	if err := os.WriteFile(fixFile, []byte(f.Fix+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep = check(t)
	if f := finding(rep, rootless.IDAppArmorDeniesUserns); f == nil || f.Severity != diag.Warning || !strings.Contains(f.Detail, "falls back") {
		t.Errorf("EngineAuto: %v; want a warning that Launch falls back to the packaged rootlesskit", f)
	}
	if err := check(t, rootless.WithEngine(rootless.EngineExternal)).Err(); err != nil {
		t.Errorf("the external engine, whose rootlesskit has Debian's profile: %v", err)
	}
}

// TestDoctorGuestRootAppliesFix (phase "allow", root): runs the fix Check printed, as printed
// (the part before its alternative; sudo dropped, this phase is root).
func TestDoctorGuestRootAppliesFix(t *testing.T) {
	requireGuest(t, true)
	b, err := os.ReadFile(fixFile)
	if err != nil {
		t.Fatalf("no fix from the confined phase: %v", err)
	}
	fix, _, _ := strings.Cut(string(b), "\n# or replace")
	script := strings.ReplaceAll(fix, "sudo ", "")
	t.Logf("applying:\n%s", script)
	out, err := exec.Command("sh", "-ex", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("the fix failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestDoctorGuestFixWorks (phase "allowed"): after the fix, Check finds no AppArmor problem and
// the embedded engine starts under the same profile.
func TestDoctorGuestFixWorks(t *testing.T) {
	requireGuest(t, false)
	rep := check(t, rootless.WithEngine(rootless.EngineEmbedded))
	for _, id := range []diag.ID{rootless.IDAppArmorDeniesUserns, rootless.IDAppArmorNoProfile, rootless.IDUsernsDenied} {
		if f := finding(rep, id); f != nil {
			t.Errorf("after the fix: %v", f)
		}
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("after the fix: %v", err)
	}
	d, err := rootless.Launch(t.Context(), rootless.WithEngine(rootless.EngineEmbedded),
		rootless.WithStateDir(filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "doctor-fix")))
	if err != nil {
		t.Fatalf("Launch with the embedded engine after the fix: %v", err)
	}
	defer d.Close()
	if i := d.Info(); i.Engine != rootless.EngineEmbedded || i.FellBack {
		t.Errorf("engine %s, fell back %v; want the embedded engine itself", i.Engine, i.FellBack)
	}
}
