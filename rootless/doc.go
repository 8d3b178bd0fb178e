// Package rootless starts and manages a rootless Docker daemon from a Go program: no root, no
// system service, one daemon per state directory, and every failure explained with its fix.
//
// # Overview
//
// [Launch] checks the host, starts dockerd inside user, mount, PID and network namespaces
// through RootlessKit, waits until the Docker API answers, and returns a [Daemon]:
//
//	func main() {
//		rootless.Init() // first statement: see "The Init hook"
//
//		d, err := rootless.Launch(ctx)
//		if err != nil {
//			log.Fatal(err) // says what failed and, where known, how to fix it
//		}
//		defer d.Close()
//		cli, err := d.Client() // a github.com/docker/docker/client, API version negotiated
//		...
//		cmd := exec.Command("docker", "ps")
//		cmd.Env = append(os.Environ(), d.Env()...) // DOCKER_HOST=unix://...
//	}
//
// # The Init hook
//
// By default RootlessKit is embedded: no rootlesskit binary is needed. Its parent does not run
// in your process, though (it would take over signals, stdio and the global logger): your
// executable is re-run as a helper process for it, RootlessKit re-runs it as its child, and once
// more to prepare the namespace before dockerd replaces it. [Init], called first in main, sends
// those processes to their work. Launch returns [ErrNoInit] when Init was not called. Where the
// embedded engine cannot create a user namespace (Ubuntu 24.04 and later let only profiled
// binaries do so), Launch falls back to the packaged rootlesskit by itself and says so in
// [Info]; [WithEngine] chooses explicitly.
//
// # Host requirements
//
// [Check] inspects the host without starting anything and reports every problem at once: each
// is a [*PrereqError] whose Remedy says what to run. It covers unprivileged user namespaces,
// newuidmap/newgidmap, the subordinate id ranges (package idmap), the network driver's programs
// and versions (netdriver, portdriver), /dev/net/tun, iptables, cgroup delegation
// (cgroupdeleg), and the sysctls behind ping and privileged ports. Launch runs the same checks
// and refuses unsafe set-ups: running as root, a state directory under /tmp or reachable by
// other users, a data root on NFS, and a TCP API without TLS.
//
// # Isolation
//
// Every path derives from options: [WithStateDir] holds the API socket, pid file, exec root,
// RootlessKit's state and a lock, so several daemons of one user can run side by side (CI jobs)
// and none depends on XDG_RUNTIME_DIR being set. Give each its own [WithDataRoot]. A second
// Launch on a directory in use fails with [ErrAlreadyRunning]; files left by a daemon that was
// killed are recognised as stale (its lock died with it) and removed.
//
// # Networking
//
// [WithNetwork] and [WithPortDriver] take typed driver values, such as
// netdriver.Slirp4netns{MTU: 65520}; by default the best driver on the host is chosen, and
// Info.Reasons says why. [WithSourceIP], [WithHostLoopback], [WithIPv6] and [WithMTUClamp]
// ask for what users usually want and pick a valid combination; each documents its trade-off.
// [Daemon.Ports] adds, lists and removes published ports at run time. [WithScriptEnv] reads
// dockerd-rootless.sh's DOCKERD_ROOTLESS_ROOTLESSKIT_* variables. [WithTCPAPI] also serves the
// API on a host port, with mutual TLS only ([WithInsecureTCPAPI] says what it is); package
// rootless/setup installs the daemon as a systemd user service with its CLI context.
//
// # Lifetime
//
// The context given to Launch bounds startup only. On failure nothing is left behind, and the
// error is a [*StartError] with the stage, the last log lines and, for known failures, the
// cause and remedy. The daemon runs until [Daemon.Shutdown] or [Daemon.Close], or until this
// process exits: even a SIGKILL of the host process takes the whole daemon tree with it,
// because the tree lives in a PID namespace whose init dies with its parent. To tie the daemon
// to a context:
//
//	stop := context.AfterFunc(ctx, func() { d.Close() })
//	defer stop()
//
// [Daemon.Done], [Daemon.Wait] and [Daemon.Err] report an unexpected exit as an [*ExitError]
// with the exit status and log tail.
//
// # Logging
//
// Nothing is printed unless asked. [WithLogger] receives lifecycle events and the daemon's own
// output, parsed and re-emitted at its level with the attribute component=dockerd|rootlesskit;
// [WithDaemonOutput] receives the raw output; [WithProgress] reports the startup stages. Log
// keys: stage, elapsed, host, pid, engine, net_driver, port_driver, startup, exit_code, cause,
// check, detail, remedy.
//
// # Data owned by subordinate ids
//
// Images and containers leave files owned by ids of the user's subordinate range, which the
// user cannot delete directly. [RemoveAll] removes them from inside a user namespace.
package rootless
