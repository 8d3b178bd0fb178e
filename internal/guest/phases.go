//go:build linux

package guest

import "github.com/rootlessd/rootlessd/internal/testbed"

// DoctorBinary is the share name of internal/guest/doctor's test binary, whose tests run in
// phases of their own next to this package's.
const DoctorBinary = "doctor.test"

// Phases is the order in which the first boot of the guest runs the suite. User phases run as
// the guest's test user in its systemd session; root phases change the guest in between: the
// Delegate= drop-in (which needs a restart of user@UID.service, so it cannot happen while a user
// phase runs), and the AppArmor profiles of the test binaries. internal/guest/doctor's tests
// (DoctorBinary) run in the phases named *-doctor, right after this package's phase of the
// same state. Every test of both binaries is in exactly one phase of Phases or RebootPhases;
// TestGuest checks that before it boots. Within a phase, tests run in the order of the source
// (file by file, alphabetically), not in the order listed here.
var Phases = []testbed.GuestPhase{
	{Name: "distro", Tests: []string{
		"TestDebianHost",
		"TestDoctorPartialDelegation", // first: Check on a host where no daemon ran yet
		"TestDelegationDefault",
		"TestCgroupLimits",
		"TestDebianScript",
		"TestDriverCombinations",
	}},
	{Name: "distro-doctor", Binary: DoctorBinary, Tests: []string{"TestDoctorGuestHealthy", "TestDoctorGuestNoSession"}},
	{Name: "delegate", Root: true, Tests: []string{"TestRootInstallDelegateDropIn"}},
	{Name: "delegated", Tests: []string{"TestDelegationAll"}},
	{Name: "delegated-doctor", Binary: DoctorBinary, Tests: []string{"TestDoctorGuestDelegated"}},
	{Name: "confine", Root: true, Tests: []string{"TestRootConfineWithoutUserns"}},
	{Name: "confined", Tests: []string{"TestAppArmorEmbeddedDenied", "TestAppArmorAutoFallsBack"}},
	{Name: "confined-doctor", Binary: DoctorBinary, Tests: []string{"TestDoctorGuestNamesDenial"}},
	{Name: "audit", Root: true, Tests: []string{"TestRootAuditShowsDenial"}},
	// The fix Check printed in confined-doctor, applied as printed.
	{Name: "allow-doctor", Root: true, Binary: DoctorBinary, Tests: []string{"TestDoctorGuestRootAppliesFix"}},
	{Name: "allowed-doctor", Binary: DoctorBinary, Tests: []string{"TestDoctorGuestFixWorks"}},
	// The socket activation units of rootless/setup with examples/devtool; they are removed
	// again before the launcher's service is installed.
	{Name: "activation", Tests: []string{"TestSocketActivation"}},
	// Last: the service it installs stays enabled for the reboot, and would start whenever
	// the user's manager does.
	{Name: "service", Tests: []string{"TestServiceLifecycle"}},
}

// RebootPhases run on the second boot of the same disk: what the first boot's service phase
// left must come up by itself.
var RebootPhases = []testbed.GuestPhase{
	{Name: "rebooted", Tests: []string{"TestServiceAfterReboot"}},
}
