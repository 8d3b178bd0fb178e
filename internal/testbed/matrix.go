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
	noVPNKit := Verdict{Why: "vpnkit not found"} // not packaged anywhere we reach
	// pasta runs from the bed's newer passt (Bed.Pasta, sid's): Debian 12's 2023_03_09 is older
	// than RootlessKit's minimum, which the unit tests of netdriver pin.
	for _, e := range []MatrixEngine{Embedded, CurrentRootlessKit} {
		for cell, v := range map[[2]string]Verdict{
			{"slirp4netns", "builtin"}: works, {"slirp4netns", "slirp4netns"}: works, {"slirp4netns", "none"}: works,
			{"gvisor-tap-vsock", "builtin"}: works, {"gvisor-tap-vsock", "gvisor-tap-vsock"}: works, {"gvisor-tap-vsock", "none"}: works,
			{"none", "builtin"}: works, {"none", "none"}: works,
			{"pasta", "implicit"}: works, {"pasta", "pesto"}: works, {"pasta", "none"}: works,
			{"vpnkit", "builtin"}: noVPNKit, {"vpnkit", "none"}: noVPNKit,
			{"lxc-user-nic", "builtin"}: works, {"lxc-user-nic", "none"}: works,
		} {
			Matrix[Cell{e, cell[0], cell[1]}] = v
		}
	}
	// Only RootlessKit's library runs pasta with builtin; the rootlesskit command refuses it
	// (netdriver.IDEmbeddedOnly), so the installed engines have no such cell.
	Matrix[Cell{Embedded, "pasta", "builtin"}] = works
	for cell, v := range map[[2]string]Verdict{
		{"slirp4netns", "builtin"}: works, {"slirp4netns", "slirp4netns"}: works, {"slirp4netns", "none"}: works,
		{"vpnkit", "builtin"}: noVPNKit, {"vpnkit", "none"}: noVPNKit,
		{"lxc-user-nic", "builtin"}: works, {"lxc-user-nic", "none"}: works,
	} {
		Matrix[Cell{DistroRootlessKit, cell[0], cell[1]}] = v
	}
}
