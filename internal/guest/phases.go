package guest

import "github.com/rootlessd/rootlessd/internal/testbed"

// Phases is the order in which one boot of the guest runs the suite. User phases run as the
// guest's test user in its systemd session; root phases change the guest in between: the
// Delegate= drop-in (which needs a restart of user@UID.service, so it cannot happen while a user
// phase runs), and the AppArmor profiles of the test binary. Every test of the suite is in
// exactly one phase; TestGuest checks that before it boots. Within a phase, tests run in the order
// of the source (file by file, alphabetically), not in the order listed here.
var Phases = []testbed.GuestPhase{
	{Name: "distro", Tests: []string{
		"TestDebianHost",
		"TestDoctorPartialDelegation", // first: Check on a host where no daemon ran yet
		"TestDelegationDefault",
		"TestCgroupLimits",
		"TestDebianScript",
		"TestDriverCombinations",
	}},
	{Name: "delegate", Root: true, Tests: []string{"TestRootInstallDelegateDropIn"}},
	{Name: "delegated", Tests: []string{"TestDelegationAll"}},
	{Name: "confine", Root: true, Tests: []string{"TestRootConfineWithoutUserns"}},
	{Name: "confined", Tests: []string{"TestAppArmorEmbeddedDenied", "TestAppArmorAutoFallsBack"}},
	{Name: "audit", Root: true, Tests: []string{"TestRootAuditShowsDenial"}},
}
