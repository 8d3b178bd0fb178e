//go:build linux && integration && !guest

package guest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// EnvRun names a regular expression: TestGuest then runs only the guest tests whose names match
// it (and the phases that still have tests), e.g. ROOTLESSD_GUEST_RUN='AppArmor|Confine|Allow'.
const EnvRun = "ROOTLESSD_GUEST_RUN"

// TestGuest builds the guest suite (build tag "guest": this package's tests and
// internal/guest/doctor's), examples/launcher and examples/devtool, boots the VM host's guest with them on the
// share, and reports every guest test as a subtest PHASE/TestName that fails with the guest's
// output. The first boot runs Phases; a second boot of the same disk (a qcow2 overlay over the
// cached image, removed afterwards) runs RebootPhases. When the guest does not come back, the
// boot is killed and the test fails with the console's tail.
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
	tmp := t.TempDir()
	pkg := testbed.PackageDir()
	bin, doctor, launcher := filepath.Join(tmp, "guest.test"), filepath.Join(tmp, DoctorBinary), filepath.Join(tmp, "launcher")
	devtool := filepath.Join(tmp, "devtool")
	examples := filepath.Join(pkg, "..", "..", "examples")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Go(func() { errs[0] = testbed.BuildGuestTest(ctx, pkg, "guest", bin) })
	wg.Go(func() { errs[1] = testbed.BuildGuestTest(ctx, filepath.Join(pkg, "doctor"), "guest", doctor) })
	wg.Go(func() { errs[2] = buildProgram(ctx, filepath.Join(examples, "launcher"), launcher) })
	wg.Go(func() { errs[3] = buildProgram(ctx, filepath.Join(examples, "devtool"), devtool) })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := testbed.CheckPlan(ctx, append(slices.Clone(Phases), RebootPhases...), bin, doctor); err != nil {
		t.Fatalf("the phase plan (phases.go) does not match the suite:\n%v", err)
	}
	filter := os.Getenv(EnvRun)
	if _, err := testbed.FilterPhases(append(slices.Clone(Phases), RebootPhases...), filter); err != nil {
		t.Fatal(err)
	}
	first, _ := testbed.FilterPhases(Phases, filter)
	reboot, _ := testbed.FilterPhases(RebootPhases, filter)
	if len(reboot) > 0 && !slices.ContainsFunc(first, func(p testbed.GuestPhase) bool { return p.Name == "service" }) {
		t.Fatalf("%s=%q: the reboot phase needs the service phase of the first boot", EnvRun, filter)
	}
	timeout := 40 * time.Minute // a safety net: see the README for what a boot takes
	if dl, ok := t.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)-30*time.Second)
	}
	deadline := time.Now().Add(timeout)
	keep := os.Getenv("ROOTLESSD_VM_WORKDIR") // set it to keep the shares and consoles for a look
	run := testbed.GuestRun{
		Binary:   bin,
		Binaries: []string{doctor},
		Files:    map[string]string{"probe.tar": bed.Image, "bin/launcher": launcher, "bin/devtool": devtool},
		Env:      []string{testbed.EnvRequire + "=1"}, // the guest has every prerequisite: a missing one fails
	}
	if len(reboot) > 0 {
		disk, err := os.MkdirTemp("/var/tmp", "rootlessd-disk.")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(disk)
		run.Disk = filepath.Join(disk, "guest.qcow2")
		if err := vm.NewOverlay(ctx, run.Disk); err != nil {
			t.Fatal(err)
		}
	}
	accel, _, why := testbed.Accel()
	for i, phases := range [][]testbed.GuestPhase{first, reboot} {
		if len(phases) == 0 {
			continue
		}
		run.Phases = phases
		run.Timeout = time.Until(deadline)
		if i == 0 && len(reboot) > 0 {
			run.Timeout -= rebootBox // the second boot gets its own time box
		}
		if keep != "" {
			run.WorkDir = filepath.Join(keep, fmt.Sprintf("boot%d", i+1))
		}
		t.Logf("boot %d of %s (kernel %s, disk %s) with %s (%s), time box %v", i+1, vm.Image, vm.KernelVersion,
			cmp.Or(run.Disk, "-snapshot"), accel, why, run.Timeout.Round(time.Second))
		res, err := vm.Run(ctx, run)
		if res != nil {
			t.Logf("boot %d and its phases: %v (boot: %s)", i+1, res.Elapsed.Round(time.Second), res.BootTime)
			res.Report(t)
		}
		if err != nil {
			t.Fatalf("boot %d: %v", i+1, err)
		}
	}
}

// rebootBox is the part of TestGuest's time box kept for the second boot: a boot, the
// service's start at boot and one container under TCG on a loaded machine.
const rebootBox = 12 * time.Minute

// buildProgram builds the main package in dir to out, without cgo (the guest has its own libc).
func buildProgram(ctx context.Context, dir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %v\n%s", dir, err, b)
	}
	return nil
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
