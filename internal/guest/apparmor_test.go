//go:build guest

package guest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// The AppArmor phases reproduce Ubuntu >= 24.04, where a program without a profile that grants
// `userns,` cannot create a user namespace that works. Debian's kernel has no switch for that
// (kernel.apparmor_restrict_unprivileged_userns is Ubuntu's), but it does mediate user
// namespaces per profile: a process confined by an enforcing profile without userns is denied
// (operation="userns_create"), while an unconfined one, or one in a flags=(unconfined) profile,
// is not. So the test binary is confined by a profile that allows everything but userns; it
// moves Debian's /usr/bin/rootlesskit to that program's own profile, as an exec from an
// unconfined process on Ubuntu does.

// profileName is the AppArmor profile of a guest test binary: rootlessd-guest-guest for
// guest.test, rootlessd-guest-doctor for internal/guest/doctor's doctor.test.
func profileName(exe string) string {
	return "rootlessd-guest-" + strings.TrimSuffix(filepath.Base(exe), ".test")
}

// profileWithoutUserns confines exe as Ubuntu confines an unprofiled binary's user namespaces:
// it may do everything but create one. There is no deny rule: the permission is simply not
// granted, so the kernel logs the denial (operation="userns_create"), and the fix Check prints
// for such a profile (add `userns,`) works as printed; `all,` would grant userns too. Debian's
// /usr/bin/rootlesskit runs under its own profile (px), as it would from an unconfined process,
// and dockerd unconfined (ux), as on Ubuntu, where it has no profile: the target step re-runs
// exe inside the namespaces. attach_disconnected: paths outside the mount namespace's root.
func profileWithoutUserns(exe string) string {
	return fmt.Sprintf(`abi <abi/4.0>,
include <tunables/global>

profile %s %s flags=(attach_disconnected) {
  capability,
  network,
  mount,
  remount,
  umount,
  pivot_root,
  ptrace,
  signal,
  unix,
  dbus,
  file,
  %s px,
  /usr/sbin/dockerd ux,
}
`, profileName(exe), exe, packagedRootlessKit)
}

// loadProfile replaces exe's profile in the kernel and keeps it in /etc/apparmor.d.
func loadProfile(t *testing.T, exe, text string) {
	t.Helper()
	path := "/etc/apparmor.d/" + profileName(exe)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("apparmor_parser", "--replace", "--skip-cache", path).CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser --replace %s: %v\n%s\nprofile:\n%s", path, err, out, text)
	}
	t.Logf("loaded %s:\n%s", path, text)
}

// TestRootConfineWithoutUserns (root phase) confines every test binary of the boot (this one
// and internal/guest/doctor's) under a profile without userns.
func TestRootConfineWithoutUserns(t *testing.T) {
	testbed.RequireGuestRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bins, err := filepath.Glob(filepath.Join(filepath.Dir(exe), "*.test"))
	if err != nil || len(bins) == 0 {
		t.Fatalf("no test binaries next to %s: %v", exe, err)
	}
	for _, bin := range bins {
		loadProfile(t, bin, profileWithoutUserns(bin))
	}
}

// requireConfined fails t unless this process runs under its test profile in mode.
func requireConfined(t *testing.T, mode string) {
	t.Helper()
	exe, _ := os.Executable()
	if got, want := apparmorLabel(t), profileName(exe)+" ("+mode+")"; got != want {
		t.Fatalf("AppArmor label %q, want %q: the root phase did not confine the test binary", got, want)
	}
}

// TestAppArmorEmbeddedDenied: the embedded engine would re-run this binary, which may not create
// a user namespace: Launch refuses it before anything starts (Resolve's probe, run by this
// process, was denied), names the profile and says how to fix it.
func TestAppArmorEmbeddedDenied(t *testing.T) {
	bed := testbed.RequireGuest(t)
	requireConfined(t, "enforce")
	d, log, err := tryLaunch(t, bed, rootless.WithEngine(rootless.EngineEmbedded))
	if err == nil {
		t.Fatalf("Launch with the embedded engine under a profile without userns succeeded (%+v)", d.Info())
	}
	exe, _ := os.Executable()
	var f *diag.Finding
	for _, g := range diag.List(err) {
		if g.ID == rootless.IDAppArmorDeniesUserns {
			f = g
		}
	}
	if !errors.Is(err, rootless.IDAppArmorDeniesUserns) || f == nil || !strings.Contains(f.Evidence, "/etc/apparmor.d/"+profileName(exe)) ||
		!strings.Contains(f.Fix, "userns,") {
		t.Fatalf("Launch: %v (finding %+v); want %s naming /etc/apparmor.d/%s, with userns, in the fix\nlog:\n%s",
			err, f, rootless.IDAppArmorDeniesUserns, profileName(exe), log)
	}
	t.Logf("Launch: %v\nfix:\n%s", err, f.Fix)
}

// TestAppArmorAutoFallsBack: with EngineAuto, the denied embedded engine gives way to Debian's
// /usr/bin/rootlesskit, whose profile allows userns; the daemon works and Info says so.
func TestAppArmorAutoFallsBack(t *testing.T) {
	bed := testbed.RequireGuest(t)
	requireConfined(t, "enforce")
	d := launch(t, bed)
	i := d.Info()
	if i.Engine != rootless.EngineExternal || !i.FellBack || i.RootlessKit.Path != packagedRootlessKit {
		t.Errorf("Info: engine %s, fell back %v, %s; want external, true, %s", i.Engine, i.FellBack, i.RootlessKit, packagedRootlessKit)
	}
	testbed.ServeProbe(t, bed, d.Host())
}

// TestRootAuditShowsDenial (root phase) finds the kernel's record of the denial: the evidence
// that the confined phase was denied by AppArmor and by nothing else.
func TestRootAuditShowsDenial(t *testing.T) {
	testbed.RequireGuestRoot(t)
	exe, _ := os.Executable()
	out, err := exec.Command("journalctl", "-k", "--no-pager", "-o", "cat", "-g", `apparmor="DENIED"`).CombinedOutput()
	if err != nil {
		t.Fatalf("journalctl -k: %v\n%s", err, out)
	}
	t.Logf("AppArmor denials in the kernel log:\n%s", strings.TrimSpace(string(out)))
	if !strings.Contains(string(out), `operation="userns_create"`) || !strings.Contains(string(out), `profile="`+profileName(exe)+`"`) {
		t.Fatalf("no userns_create denial of profile %s in the kernel log", profileName(exe))
	}
}
