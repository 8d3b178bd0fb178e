// Package rootlessd is the root of an SDK that runs the Docker daemon without root from any Go
// program, and manages it: it checks the host, launches dockerd inside user, mount and network
// namespaces through RootlessKit, publishes ports, stops it cleanly, and installs it as a systemd
// user service. It replaces Docker's dockerd-rootless.sh and dockerd-rootless-setuptool.sh with a
// library that explains every failure and its fix.
//
// This package holds no code; the work is done by its subpackages.
//
// # Architecture
//
// [github.com/rootlessd/rootlessd/rootless] is the front door. Launch composes the leaf packages,
// which never import it:
//
//	rootless.Launch(ctx, opts...) = rootless.Resolve(ctx, opts...) → *Plan → Plan.Launch(ctx)
//	  ├─ idmap        who the user is and which subordinate ids newuidmap/newgidmap will map
//	  ├─ cgroupdeleg  which cgroup controllers the daemon may use (cgroup v2 delegation)
//	  ├─ netdriver    the network namespace's link to the host (slirp4netns, pasta, gvisor-tap-vsock, ...)
//	  ├─ portdriver   how published ports reach the namespace (builtin, slirp4netns, implicit, ...)
//	  ├─ diag         the one finding type all of them report: ID, severity, detail, evidence, fix
//	  └─ engine       RootlessKit, embedded as a library (default) or an installed rootlesskit binary
//	        └─ dockerd, containerd, runc: inside the namespaces, owned by one process tree
//
// Data flows one way: options → a plan (a value to print and test) → the engine → processes.
// The host program's own executable is re-run inside the namespaces (as RootlessKit's parent
// and its child, which also does the namespace setup step, with the embedded engine; for the
// setup step with an installed rootlesskit), so it must call rootless.Init at the top of main. RootlessKit's
// parent never runs inside the host process: it takes over signals, stdio and the global
// logger.
//
// Check runs the same decisions as Launch without starting anything and reports every finding
// at once, each with its evidence and fix.
//
// A running Daemon watches its own tree (rootless.Watchdog: a dead or stopped process, an API
// that stops answering, a network that stops forwarding) and can restart it in place. By default
// it dies with the program that launched it; rootless.WithDetach, rootless.Attach and
// rootless.Activator give dev tools a daemon that outlives its launcher, is found again, starts
// on the first connection to its socket and stops when idle. Package rootless/setup installs it
// as a systemd user service with a docker CLI context.
package rootlessd
