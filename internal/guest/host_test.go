//go:build integration && !guest

package guest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// EnvRun names a regular expression: TestGuest then runs only the guest tests whose names match
// it (and the phases that still have tests), e.g. ROOTLESSD_GUEST_RUN='AppArmor|Confine|Allow'.
const EnvRun = "ROOTLESSD_GUEST_RUN"

// TestGuest builds the guest suite (build tag "guest"), boots the VM host's guest once with it on
// the share, and reports every guest test as a subtest PHASE/TestName that fails with the
// guest's output. When the guest does not come back, the boot is killed and the test fails with
// the console's tail.
func TestGuest(t *testing.T) {
	vm := testbed.RequireVM(t)
	bed, err := testbed.Load()
	if err != nil {
		if os.Getenv(testbed.EnvRequire) == "1" {
			t.Fatalf("the guest needs the test image: %v", err)
		}
		t.Skipf("the guest needs the test image: %v", err)
	}
	ctx := t.Context()
	bin := filepath.Join(t.TempDir(), "guest.test")
	if err := testbed.BuildGuestTest(ctx, testbed.PackageDir(), "guest", bin); err != nil {
		t.Fatal(err)
	}
	if err := testbed.CheckPlan(ctx, bin, Phases); err != nil {
		t.Fatalf("the phase plan (phases.go) does not match the suite:\n%v", err)
	}
	phases, err := testbed.FilterPhases(Phases, os.Getenv(EnvRun))
	if err != nil {
		t.Fatal(err)
	}
	timeout := 40 * time.Minute // a safety net: see the README for what a boot takes
	if dl, ok := t.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)-30*time.Second)
	}
	accel, _, why := testbed.Accel()
	t.Logf("booting %s (kernel %s) with %s (%s), time box %v", vm.Image, vm.KernelVersion, accel, why, timeout.Round(time.Second))
	res, err := vm.Run(ctx, testbed.GuestRun{
		Binary:  bin,
		Files:   map[string]string{"probe.tar": bed.Image},
		Phases:  phases,
		Env:     []string{testbed.EnvRequire + "=1"}, // the guest has every prerequisite: a missing one fails
		Timeout: timeout,
		WorkDir: os.Getenv("ROOTLESSD_VM_WORKDIR"), // set it to keep the share and console for a look
	})
	if res != nil {
		t.Logf("boot and suite: %v (boot: %s)", res.Elapsed.Round(time.Second), res.BootTime)
		res.Report(t)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestGuestTimeBox boots the guest with a time box far too short for it: the boot must be killed,
// the error must say so and carry the console's tail, and no qemu of the boot may survive (Run
// checks that last part itself).
func TestGuestTimeBox(t *testing.T) {
	vm := testbed.RequireVM(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	res, err := vm.Run(t.Context(), testbed.GuestRun{
		Binary:  exe, // never run: the guest does not get that far
		Phases:  []testbed.GuestPhase{{Name: "never", Tests: []string{"TestNever"}}},
		Timeout: 20 * time.Second,
	})
	if err == nil || res == nil || !res.TimedOut || !strings.Contains(err.Error(), "did not power off within 20s; qemu killed") ||
		!strings.Contains(err.Error(), "Console tail:") {
		t.Fatalf("Run with a 20 s time box: %v (result %+v); want a timeout that killed qemu", err, res)
	}
	if res.Done || len(res.Phases) != 1 || res.Phases[0].Ran {
		t.Errorf("a killed boot reports phases as run: %+v", res.Phases)
	}
	t.Logf("console after 20 s:\n%s", res.ConsoleTail(5))
}
