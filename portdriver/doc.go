// Package portdriver publishes ports of a rootless Docker daemon's network
// namespace on the host: RootlessKit's port drivers as typed values, the
// rules for combining them with network drivers, port specs, and a manager
// for RootlessKit's REST API.
//
// # Port drivers
//
// The drivers are plain values whose zero value means RootlessKit's
// defaults: [Builtin], [Slirp4netns], [Implicit], [Pesto],
// [GVisorTapVsock] and [None]. [Named] maps a name (as in
// DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER) to one.
//
//	driver            networks          speed  source IP  API  notes
//	builtin           all (**)          fast   TCP (*)    yes  the default; RootlessKit parent binds
//	slirp4netns       slirp4netns       slow   kept       yes  IPv4 only; slirp4netns binds
//	implicit          pasta             fast   kept       no   pasta forwards every listening port, except the host's ephemeral ones
//	pesto             pasta             fast   kept       yes  experimental; pasta 2026_05_07; RootlessKit 3.1
//	gvisor-tap-vsock  gvisor-tap-vsock  slow   lost       yes  experimental; RootlessKit 3.0
//	none              all               -      -          no   publishes nothing
//
// (*) For TCP only, with RootlessKit 3.0 or later and dockerd run with
// --userland-proxy=false: [Properties.SourceIPWith] says what a driver does
// under a given RootlessKit.
// (**) But host; with pasta only in the embedded engine: the rootlesskit
// command refuses builtin with pasta, so Flags does ([netdriver.IDEmbeddedOnly]).
// This table, as [Properties], is the one place that knows the port drivers'
// throughput, source IP and binder.
//
// # Combining with a network
//
// [Validate] enforces the matrix of RootlessKit's createParentOpt and names
// the valid choices:
//
//	err := portdriver.Validate(netdriver.Slirp4netns{}, portdriver.Implicit{})
//	// netdriver.incompatible-drivers: implicit: port driver "implicit" does not work with network
//	// "slirp4netns" (fix: with network "slirp4netns" use port driver builtin, slirp4netns
//	// or none; port driver "implicit" needs network pasta)
//
// Check and Flags validate too. Check also runs the network's own
// port-driver checks ([netdriver.PortChecker]): implicit needs pasta
// 2023_12_04, pesto needs pasta 2026_05_07 (or one that accepts
// --conf-path) and the pesto program, the slirp4netns port driver needs
// slirp4netns --api-socket. Builtin warns when neither nft nor iptables is
// installed, because the source IP cannot be kept then.
//
// # External rootlesskit
//
//	v, _ := netdriver.RootlessKitVersion(ctx, h, "rootlesskit")
//	nf, _ := net.Flags(v, port.Name())
//	pf, _ := port.Flags(v, net)
//	pub, _ := portdriver.PublishFlags(port, specs...) // static --publish
//
// Flags refuse what the version lacks (pesto needs 3.1, gvisor-tap-vsock
// 3.0, implicit 2.0, --source-ip-transparent=false 3.0,
// --source-ip-transparent-backend 3.3).
//
// # Embedded engine
//
// Drivers travel to the helper and child processes with [Encode] and
// [Decode]; only this package's drivers can be decoded. On Linux each has
// Parent and Child methods that build RootlessKit's port driver from a
// [ParentSetup]; the network's ParentSetup must name the same port driver:
// the slirp4netns network opens its API socket for the slirp4netns port
// driver and pasta listens for pesto ([netdriver.Slirp4netnsAPISocket],
// [netdriver.PestoSocket]). Ports published from the start are checked by
// [CheckPublish] and given to RootlessKit as [Spec.RootlessKit] values, with
// no string round trip.
//
// # Ports at run time
//
// [Manager] adds, lists and removes ports through RootlessKit's api.sock
// (StateDir/api.sock), for either engine:
//
//	m, _ := portdriver.NewManager(stateDir+"/api.sock", portdriver.WithBinder(helperExe))
//	spec, _ := portdriver.ParseSpec("0.0.0.0:80:8080/tcp")
//	st, err := m.Add(ctx, spec)
//
// [ParseSpec] reads Docker's [IP:]HOSTPORT:CONTAINERPORT[/PROTO] (IPv6 in
// brackets) and RootlessKit's form with a child address; [Spec] uses netip
// types and converts to RootlessKit's port.Spec.
//
// Before asking RootlessKit, Add checks that the port driver has an API
// (implicit and none do not, and the error says why), that it supports the
// protocol (tcp6 needs builtin), and that a port below
// net.ipv4.ip_unprivileged_port_start can be bound. For that last one
// [CheckPrivileged] reports the sysctl's current value and both remedies:
// lower the sysctl (host-wide) or give CAP_NET_BIND_SERVICE to the process
// that binds: for builtin the RootlessKit parent, that is the helper
// executable in the embedded engine or the rootlesskit binary with the
// external engine. It reads the file capability from the security.capability
// extended attribute ([ParseFileCaps]). Errors from the API come back with
// what was being done and a remedy.
//
// # Writing a port driver
//
// A third-party [Driver] proves it keeps the contract with one call to
// portdrivertest.Run in its tests.
package portdriver
