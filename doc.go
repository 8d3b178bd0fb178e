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
//	rootless.Launch(ctx, opts...)
//	  ├─ idmap        who the user is and which subordinate ids newuidmap/newgidmap will map
//	  ├─ cgroupdeleg  which cgroup controllers the daemon may use (cgroup v2 delegation)
//	  ├─ netdriver    the network namespace's link to the host (slirp4netns, pasta, gvisor-tap-vsock, ...)
//	  ├─ portdriver   how published ports reach the namespace (builtin, slirp4netns, implicit, ...)
//	  └─ engine       RootlessKit, embedded as a library (default) or an installed rootlesskit binary
//	        └─ dockerd, containerd, runc: inside the namespaces, owned by one process tree
//
// With the embedded engine the host program's own executable is re-run as a helper process that
// runs RootlessKit's parent; the host must call rootless.Init at the top of main so that the
// helper, RootlessKit's child and the namespace setup step can take over in those processes.
// RootlessKit's parent never runs inside the host process: it takes over signals, stdio and the
// global logger.
//
// Check runs the same host inspection as Launch without starting anything and returns every
// missing prerequisite at once, each with its remedy.
package rootlessd
