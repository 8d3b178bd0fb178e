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
//   - describe itself ([Properties]: throughput class, source IP, SUID, ...),
//   - give the flags for an external rootlesskit binary of a given version
//     ([Driver.Flags]), and
//   - give RootlessKit's own parent and child drivers for the embedded
//     engine ([Driver.Parent], [Driver.Child]).
//
// Port publishing is package portdriver's; this package refers to port
// drivers by name ("builtin", "implicit", ...).
//
// # Choosing a driver
//
// [Select] picks the best working combination on this host and says why:
//
//	sel, err := netdriver.Select(ctx, netdriver.LocalHost(), netdriver.Preferences{HostLoopback: true})
//	if err != nil {
//		log.Fatalf("%v\nfix: %s", err, netdriver.Remedy(err))
//	}
//	// sel.Network, sel.PortDriver, sel.MTU, sel.HostGateway, sel.Reasons:
//	//   slirp4netns 1.2.0 supports --netns-type; chosen first per Docker's order
//	//   port driver builtin: the default for slirp4netns (fast; source IP ...)
//	//   MTU 65520: the default for slirp4netns
//	//   host loopback allowed: containers reach the host's 127.0.0.1 at 10.0.2.2; ...
//
// It follows Docker's order, slirp4netns (0.4.0 or later, detected by
// --netns-type in its --help), then pasta, then vpnkit, then the embedded
// gvisor-tap-vsock. The order lives in one place, [DefaultOrder], and
// Preferences.Order replaces it (for example with an order measured on the
// machine). Unlike dockerd-rootless.sh, Select also checks pasta's release,
// that the RootlessKit in use has the driver (gvisor-tap-vsock needs 3.0),
// and the switches below. The MTU is 65520 for slirp4netns, pasta and
// gvisor-tap-vsock whether the driver was chosen or given (moby#47765).
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
// # Switches
//
// [Preferences] has one switch per thing users ask for; each picks a valid
// combination:
//   - SourceIP keeps the client's address on published ports. Trade-off:
//     builtin keeps it for TCP only and needs dockerd --userland-proxy=false
//     (Selection.DisableUserlandProxy); on RootlessKit before 3.0
//     slirp4netns falls back to its slow port driver, and vpnkit and
//     lxc-user-nic cannot keep it at all.
//   - HostLoopback lets containers reach the host's 127.0.0.1 at
//     Selection.HostGateway: 10.0.2.2 for slirp4netns, pasta's gateway
//     (10.0.2.2; pasta maps it to the host unless --no-map-gw), 10.0.2.1
//     for gvisor-tap-vsock (default CIDR only), 192.168.65.2 for vpnkit.
//     Pass it to dockerd as "host-gateway-ip". Trade-off: every container
//     reaches every service that listens only on the host's loopback.
//   - IPv6 turns on IPv6 routing (slirp4netns and pasta only; experimental;
//     it does not publish IPv6 ports).
//   - ClampMTU lowers the MTU to the default route's when that is lower
//     (read from /proc/net/route and /sys/class/net/IF/mtu through the
//     Host), so pulls do not hang behind VPNs and overlays. Trade-off: a
//     1500 MTU cuts slirp4netns's throughput to about a fifth.
//
// # Checking the host
//
// Check returns every problem at once, joined with errors.Join. Each is an
// [*Error] with a stable [ID] (match with errors.Is), what was observed and
// a Remedy:
//
//	slirp4netns: slirp4netns-too-old: "/usr/bin/slirp4netns --help" lacks --netns-type:
//	slirp4netns seems older than v0.4.0 (fix: install slirp4netns 0.4.0 or later ...)
//
// Some problems are warnings (Error.Warning): Debian's pasta prints
// "unknown version", so its release cannot be checked from its output; the
// version dpkg recorded for the passt package is used when the package owns
// the program, and otherwise Check says the release is unknown instead of
// guessing. [Blocking] drops warnings; [Remedy] collects the fixes.
//
// Checks read the machine through a [Host]: a search PATH, an fs.FS rooted
// at "/", a way to run a program and capture its output, and extended
// attributes. [LocalHost] is the real machine; tests build one from
// fixtures.
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
//	netFlags, err := sel.Network.Flags(v, sel.PortDriver)
//	// rootlesskit --state-dir=... <netFlags> <port driver flags> --copy-up=/etc ... dockerd
//
// # Embedded engine
//
// The embedded engine links RootlessKit [Embedded] (3.3.0) and runs its
// parent in a helper process and its child in another, so the choice
// travels as data: [Encode] and [Decode] (JSON tagged with the driver's
// name). Only this package's drivers can be decoded; third-party drivers
// work with an external rootlesskit (Flags).
//
//	// helper process (RootlessKit parent):
//	d, _ := netdriver.Decode(cfg.Network)
//	np, err := d.Parent(netdriver.Embedding{Log: w, StateDir: dir, DetachNetNS: detach, PortDriver: port})
//	// parent.Opt{NetworkDriver: np, ...}; np is nil for the host network
//
//	// child process:
//	d, _ := netdriver.Decode(cfg.Network)
//	// child.Opt{NetworkDriver: d.Child(), ...}
//
// # Writing a driver
//
// A third-party [Driver] proves it keeps the contract with one call to
// netdrivertest.Run in its tests.
package netdriver
