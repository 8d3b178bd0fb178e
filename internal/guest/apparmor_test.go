//go:build guest

package guest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

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

// profileName is the AppArmor profile of the test binary.
const profileName = "rootlessd-guest-test"

// profileWithoutUserns confines exe as Ubuntu confines an unprofiled binary's user namespaces:
// everything is allowed but creating one, and that denial is logged (a plain deny rule is
// silent). Debian's /usr/bin/rootlesskit runs under its own profile, as it would from an
// unconfined process. attach_disconnected: dockerd's overlay checks use paths outside the mount
// namespace's root ("Failed name lookup - disconnected path" without it).
func profileWithoutUserns(exe string) string {
	return fmt.Sprintf(`abi <abi/4.0>,
include <tunables/global>

profile %s %s flags=(attach_disconnected) {
  all,
  audit deny userns,
  %s px,
}
`, profileName, exe, packagedRootlessKit)
}

// profileWithUserns is the profile Docker's documentation prescribes for a program that needs
// user namespaces under Ubuntu's restriction (as Debian's own rootlesskit profile is): allow
// everything, and userns.
func profileWithUserns(exe string) string {
	return fmt.Sprintf(`abi <abi/4.0>,
include <tunables/global>

profile %s %s flags=(unconfined) {
  userns,
}
`, profileName, exe)
}

// loadProfile replaces the test binary's profile in the kernel and keeps it in /etc/apparmor.d.
func loadProfile(t *testing.T, text string) {
	t.Helper()
	path := "/etc/apparmor.d/" + profileName
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("apparmor_parser", "--replace", "--skip-cache", path).CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser --replace %s: %v\n%s\nprofile:\n%s", path, err, out, text)
	}
	t.Logf("loaded %s:\n%s", path, text)
}

// TestRootConfineWithoutUserns (root phase) confines the test binary under a profile without
// userns.
func TestRootConfineWithoutUserns(t *testing.T) {
	testbed.RequireGuestRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	loadProfile(t, profileWithoutUserns(exe))
}

// requireConfined fails t unless this process runs under the test profile in mode.
func requireConfined(t *testing.T, mode string) {
	t.Helper()
	if got, want := apparmorLabel(t), profileName+" ("+mode+")"; got != want {
		t.Fatalf("AppArmor label %q, want %q: the root phase did not confine the test binary", got, want)
	}
}

// TestAppArmorEmbeddedDenied: the embedded engine re-runs this binary, which is denied a user
// namespace, and Launch says why.
func TestAppArmorEmbeddedDenied(t *testing.T) {
	bed := testbed.RequireGuest(t)
	requireConfined(t, "enforce")
	d, log, err := tryLaunch(t, bed, rootless.WithEngine(rootless.EngineEmbedded))
	if err == nil {
		t.Fatalf("Launch with the embedded engine under a profile without userns succeeded (%+v)", d.Info())
	}
	se, ok := errors.AsType[*rootless.StartError](err)
	if !ok {
		t.Fatalf("Launch: %v; want a *StartError", err)
	}
	if se.Stage != rootless.StageNamespaces || !strings.Contains(se.Cause, "AppArmor") ||
		!strings.Contains(strings.Join(se.Log, "\n"), "fork/exec /proc/self/exe: permission denied") {
		t.Errorf("StartError stage %q, cause %q, log %q; want the namespaces stage, the AppArmor cause, and RootlessKit's \"permission denied\"\ndaemon log:\n%s",
			se.Stage, se.Cause, se.Log, log)
	}
	t.Logf("Launch: %v", err)
}

// TestAppArmorAutoFallsBack: with EngineAuto, the denied embedded engine gives way to Debian's
// /usr/bin/rootlesskit, whose profile allows userns; the daemon works and Info says so.
func TestAppArmorAutoFallsBack(t *testing.T) {
	bed := testbed.RequireGuest(t)
	requireConfined(t, "enforce")
	d := launch(t, bed)
	i := d.Info()
	if i.Engine != rootless.EngineExternal || !i.FellBack || i.RootlessKitBin != packagedRootlessKit {
		t.Errorf("Info: engine %s, fell back %v, rootlesskit %q; want external, true, %s", i.Engine, i.FellBack, i.RootlessKitBin, packagedRootlessKit)
	}
	testbed.ServeProbe(t, bed, d.Host())
}

// TestAppArmorCheckNamesDenial: Check names the AppArmor denial of the embedded engine and gives
// the exact profile to install for this exact binary.
func TestAppArmorCheckNamesDenial(t *testing.T) {
	testbed.RequireGuest(t)
	requireConfined(t, "enforce")
	exe, _ := os.Executable()
	ps := rootless.Problems(rootless.Check(t.Context(), rootless.WithEngine(rootless.EngineEmbedded)))
	var all []string
	for _, p := range ps {
		all = append(all, fmt.Sprintf("warning=%v %s: %s (fix: %s)", p.Warning, p.Check, p.Detail, p.Remedy))
		if strings.Contains(p.Detail+p.Remedy, "AppArmor") && strings.Contains(p.Remedy, exe) && strings.Contains(p.Remedy, "userns,") {
			t.Logf("Check: %s", all[len(all)-1])
			return
		}
	}
	t.Errorf("Check(WithEngine(EngineEmbedded)) under a profile without userns does not name the AppArmor denial "+
		"with a profile granting `userns,` for %s. It reported %d problem(s):\n%s",
		exe, len(ps), strings.Join(all, "\n"))
}

// TestRootAuditShowsDenial (root phase) finds the kernel's record of the denial: the evidence
// that the confined phase was denied by AppArmor and by nothing else.
func TestRootAuditShowsDenial(t *testing.T) {
	testbed.RequireGuestRoot(t)
	out, err := exec.Command("journalctl", "-k", "--no-pager", "-o", "cat", "-g", `apparmor="DENIED"`).CombinedOutput()
	if err != nil {
		t.Fatalf("journalctl -k: %v\n%s", err, out)
	}
	t.Logf("AppArmor denials in the kernel log:\n%s", strings.TrimSpace(string(out)))
	if !strings.Contains(string(out), `operation="userns_create"`) || !strings.Contains(string(out), `profile="`+profileName+`"`) {
		t.Fatalf("no userns_create denial of profile %s in the kernel log", profileName)
	}
}

// TestRootAllowUserns (root phase) installs the profile with userns for the test binary.
func TestRootAllowUserns(t *testing.T) {
	testbed.RequireGuestRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	loadProfile(t, profileWithUserns(exe))
}

// TestAppArmorProfileAllowsEmbedded: once the binary's profile grants userns, the embedded
// engine works under it.
func TestAppArmorProfileAllowsEmbedded(t *testing.T) {
	bed := testbed.RequireGuest(t)
	requireConfined(t, "unconfined")
	d := launch(t, bed, rootless.WithEngine(rootless.EngineEmbedded))
	if d.Info().Engine != rootless.EngineEmbedded {
		t.Errorf("engine %s, want embedded", d.Info().Engine)
	}
	testbed.ServeProbe(t, bed, d.Host())
}
