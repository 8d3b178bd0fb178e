// Package netdriver describes, checks and chooses the network of a rootless
// Docker daemon: the RootlessKit network driver that connects the daemon's
// network namespace to the host.
//
// # Overview
//
// A network driver is a plain value: [Slirp4netns], [Pasta], [VPNKit],
// [LXCUserNIC], [GVisorTapVsock], [None] and [HostNetwork]. The zero value
// means Docker's defaults (dockerd-rootless.sh); fields change them:
//
//	d := netdriver.Slirp4netns{MTU: 1500, HostLoopback: true}
//
// Every [Driver] can
//   - Check the host and say what is missing and how to fix it,
//   - describe itself ([Properties]: throughput class, SUID, MTU, gateway, ...),
//   - give the flags for an external rootlesskit binary of a given version
//     ([Driver.Flags]).
//
// On Linux the drivers of this package also give RootlessKit's own parent
// and child drivers for the embedded engine (Parent and Child methods, used
// by package rootless); the interface leaves them out, so the package
// compiles everywhere and third-party drivers need only the four methods.
//
// Port publishing is package portdriver's; this package refers to port
// drivers by name ("builtin", "implicit", ...).
//
// # Settings and the choice of a driver
//
// [Apply] gives a driver the settings a caller wants of whichever driver is
// chosen, in one pass, checked as the driver's own fields are:
//
//	d, err := netdriver.Apply(netdriver.Slirp4netns{}, netdriver.Settings{MTU: 1500, HostLoopback: true})
//
// A setting the driver has no place for (a CIDR for vpnkit, IPv6 for
// gvisor-tap-vsock) is an [IDUnsupported] finding that names the drivers
// that have it. [Resolve] decides what a driver leaves to RootlessKit (the
// program's absolute path, slirp4netns's sandbox and seccomp), so that a
// launch plan says exactly what runs; [Describe] says what Check found.
//
// Choosing among the drivers is package rootless's (rootless.Resolve, whose
// Plan.Reasons say why): it follows Docker's order, slirp4netns (0.4.0 or
// later, detected by --netns-type in its --help), then pasta, then vpnkit,
// then the embedded gvisor-tap-vsock, and it needs both this package and
// portdriver's table of what each port driver does with the source IP.
// The MTU is 65520 for slirp4netns, pasta and gvisor-tap-vsock whether the
// driver was chosen or given (moby#47765).
//
// # Drivers
//
// Docker's table, with the default port driver of each network (port
// drivers other than the default are in package portdriver):
//
//	network           port      net   port  source IP  SUID  notes
//	slirp4netns       builtin   slow  fast  TCP (*)    no    default when installed
//	pasta             implicit  slow  fast  kept       no    experimental; pasta 2023_12_04; RootlessKit 2.0
//	vpnkit            builtin   slow  fast  TCP (*)    no    legacy; MTU 1500
//	lxc-user-nic      builtin   fast  fast  TCP (*)    yes   experimental; /etc/lxc/lxc-usernet
//	gvisor-tap-vsock  builtin   slow  fast  TCP (*)    no    experimental; in-process; RootlessKit 3.0
//	none              builtin   -     fast  TCP (*)    no    loopback only; RootlessKit 2.1
//	host              none      fast  -     -          no    no namespace; rejected by Docker
//
// (*) The builtin port driver keeps the client's source IP for TCP only,
// and only with RootlessKit 3.0 or later and dockerd's userland proxy
// disabled. With slirp4netns, the slirp4netns port driver keeps it on any
// RootlessKit (slow); with pasta, implicit and pesto keep it.
//
// Host loopback: 10.0.2.2 for slirp4netns, pasta's gateway (10.0.2.2; pasta
// maps it to the host unless --no-map-gw), 10.0.2.1 for gvisor-tap-vsock
// (default CIDR only), 192.168.65.2 for vpnkit (Properties.HostGateway); pass
// it to dockerd as "host-gateway-ip". IPv6 routing works with slirp4netns and
// pasta only.
//
// # Checking the host
//
// Check returns every problem at once, joined with errors.Join. Each is a
// [*diag.Finding] (the finding type of every rootlessd package) with a
// stable ID of this package (match with errors.Is), what was observed, the
// evidence and the fix:
//
//	netdriver.slirp4netns-too-old: slirp4netns: "/usr/bin/slirp4netns --help" lacks
//	--netns-type: slirp4netns seems older than v0.4.0 (fix: install slirp4netns 0.4.0 or later ...)
//
// Some problems are warnings: Debian's pasta prints "unknown version", so
// its release cannot be checked from its output; the version dpkg recorded
// for the passt package is used when the package owns the program, and
// otherwise Check warns that the release is unknown instead of guessing.
// diag.Blocking drops warnings; diag.Remedy collects the fixes. [Problem]
// and [Warn] build findings for third-party drivers the same way.
//
// Checks read the machine through a [Host]: a search PATH, an fs.FS rooted
// at "/", a way to run a program and capture its output, and extended
// attributes. [LocalHost] is the real machine, whose probes run once per
// version of each program ([CachedRun]); tests build one from fixtures.
//
// # External rootlesskit
//
// Flags depend on the RootlessKit release ([ParseVersion],
// [RootlessKitVersion]); a driver, port driver or flag the release lacks is
// refused with the release it needs ([IDRootlessKitTooOld]):
//
//	1.0  slirp4netns, vpnkit, lxc-user-nic, host; builtin and slirp4netns ports (distributions ship 1.1.0)
//	2.0  pasta, the implicit port driver, --detach-netns ([DetachNetNSFlags])
//	2.1  none
//	3.0  gvisor-tap-vsock (network and port driver), --source-ip-transparent
//	3.1  the pesto port driver, --pesto-binary
//	3.3  --source-ip-transparent-backend
//
// The tests check these gates against the --help of real rootlesskit
// 1.1.0, 2.0.0, 2.3.6, 3.0.0, 3.1.0 and 3.3.0 binaries.
//
//	v, _ := netdriver.RootlessKitVersion(ctx, netdriver.LocalHost(), "rootlesskit")
//	netFlags, err := d.Flags(v, "builtin")
//	// rootlesskit --state-dir=... <netFlags> <port driver flags> --copy-up=/etc ... dockerd
//
// Package rootless renders the whole command line in one place, and prints it
// in its launch plan.
//
// # Embedded engine
//
// The embedded engine links RootlessKit [LinkedRootlessKit] (3.3.0) and runs
// its parent in a helper process and its child in another, so the choice
// travels as data: [Encode] and [Decode] (JSON tagged with the driver's
// name). Only this package's drivers can be decoded; third-party drivers
// work with an external rootlesskit (Flags), and rootless.Resolve refuses
// them for the embedded engine with a finding that says so.
//
// # Writing a driver
//
// A third-party [Driver] proves it keeps the contract with one call to
// netdrivertest.Run in its tests.
package netdriver
