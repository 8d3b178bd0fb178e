//go:build linux

package testbed

// MatrixEngine is an engine of the driver matrix.
type MatrixEngine string

// The engines of the matrix on the test machine.
const (
	Embedded           MatrixEngine = "embedded"          // RootlessKit linked into this module
	CurrentRootlessKit MatrixEngine = "rootlesskit-3.3.0" // the current stack's binary
	DistroRootlessKit  MatrixEngine = "rootlesskit-1.1.0" // Debian 12's package
)

// Cell is one engine × network driver × port driver combination.
type Cell struct {
	Engine        MatrixEngine
	Network, Port string
}

// Verdict is what a cell must do on the test machine: work, or be refused, by Check, for the
// reason Why names (a part of the refusal's text).
type Verdict struct {
	Works bool
	Why   string
}

// Matrix pins the verdict of every combination RootlessKit accepts (portdriver.Validate) that
// the driver tests run on the test machine. A test fails when a cell changes either way, so a
// regression that refuses a working driver, or a driver that starts working unnoticed, is
// seen. The README's driver table is checked against it.
var Matrix = map[Cell]Verdict{}

func init() {
	works := Verdict{Works: true}
	oldPasta := Verdict{Why: "older than 2023_06_25"} // Debian 12's passt 2023_03_09
	noVPNKit := Verdict{Why: "vpnkit not found"}      // not packaged anywhere we reach
	noLXC := Verdict{Why: "lxc-user-nic not found"}
	for _, e := range []MatrixEngine{Embedded, CurrentRootlessKit} {
		for cell, v := range map[[2]string]Verdict{
			{"slirp4netns", "builtin"}: works, {"slirp4netns", "slirp4netns"}: works, {"slirp4netns", "none"}: works,
			{"gvisor-tap-vsock", "builtin"}: works, {"gvisor-tap-vsock", "gvisor-tap-vsock"}: works, {"gvisor-tap-vsock", "none"}: works,
			{"none", "builtin"}: works, {"none", "none"}: works,
			{"pasta", "implicit"}: oldPasta, {"pasta", "pesto"}: oldPasta, {"pasta", "none"}: oldPasta,
			{"vpnkit", "builtin"}: noVPNKit, {"vpnkit", "none"}: noVPNKit,
			{"lxc-user-nic", "builtin"}: noLXC, {"lxc-user-nic", "none"}: noLXC,
		} {
			Matrix[Cell{e, cell[0], cell[1]}] = v
		}
	}
	for cell, v := range map[[2]string]Verdict{
		{"slirp4netns", "builtin"}: works, {"slirp4netns", "slirp4netns"}: works, {"slirp4netns", "none"}: works,
		{"vpnkit", "builtin"}: noVPNKit, {"vpnkit", "none"}: noVPNKit,
		{"lxc-user-nic", "builtin"}: noLXC, {"lxc-user-nic", "none"}: noLXC,
	} {
		Matrix[Cell{DistroRootlessKit, cell[0], cell[1]}] = v
	}
}
