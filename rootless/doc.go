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
// # The plan
//
// Launch is [Resolve] followed by [Plan.Launch]. Resolve decides everything before anything
// starts, once and in one place, and returns the decision as a [Plan], a value to print, log,
// marshal and test: the engine and the RootlessKit, the network and port drivers as typed
// values with every setting decided, the MTU, detach-netns, every path, dockerd's command line
// and RootlessKit's exact flags, each decision with its reasons (Plan.Reasons), and the
// warnings found on the way (Plan.Findings). An IDE shows "which network driver will you get
// and why"; a CI runner logs the plan before its job:
//
//	p, err := rootless.Resolve(ctx, rootless.WithSourceIP(true))
//	if err != nil {
//		return err
//	}
//	fmt.Print(p) // engine: embedded ... network: {"driver":"slirp4netns",...} ...
//	d, err := p.Launch(ctx)
//
// [Daemon.Info] is the plan plus what the daemon confirmed (its version, storage and cgroup
// drivers).
//
// # The Init hook
//
// Both engines re-run your executable inside the namespaces: by default RootlessKit is
// embedded (no rootlesskit binary is needed) and your executable is re-run as a helper for
// RootlessKit's parent (which would otherwise take over signals, stdio and the global logger),
// as its child, and once more to prepare the namespace before dockerd replaces it; with an
// installed rootlesskit ([EngineExternal]) it is re-run for that last step. [Init], called first
// in main, sends those processes to their work. Resolve, Launch and RemoveAll return
// [ErrNoInit] when Init was not called. Where the embedded engine cannot create a user
// namespace (Ubuntu 24.04 and later let only profiled binaries do so), Launch falls back to the
// packaged rootlesskit by itself, with a plan resolved again for it, and says so in
// Info.FellBack; [WithEngine] chooses explicitly.
//
// # Host requirements
//
// Every problem is a [*diag.Finding], whichever package found it: a stable ID ([AllIDs] lists
// them all), a severity, what was observed, the evidence (a value, a path, or file:line) and the
// exact fix, with the commands of the host's distribution (from /etc/os-release: Debian and
// Ubuntu, Fedora and RHEL, Arch, openSUSE and SLES; all four elsewhere). Resolve and Launch
// return the error-level findings joined as their error.
//
// [Check] is the report part of Resolve, not a second set of checks: it runs the very same
// resolve and keeps the error-level findings in [Report].Findings, next to the warnings and
// notes, instead of returning them. Its error is only for a Check that could not run (invalid
// options, a done ctx, [ErrNotSupported]). So a host that Check passes is one Launch accepts, and
// what Launch refuses, Check has already named. The report also says what Docker will do on
// this host ([Report].Docker): the storage driver dockerd will pick (by the kernel rules of
// Docker's documentation, settled by a probe: overlay2, fuse-overlayfs, btrfs, vfs, or the
// containerd image store's snapshotter), the cgroup driver and the docker run flags it will
// ignore; the drivers and why are in the [Plan]. examples/doctor prints it.
//
//	rep, err := rootless.Check(ctx)
//	if err != nil {
//		return err // the check could not run
//	}
//	fmt.Println(rep.Docker.Storage.Driver, rep.Docker.Cgroups.Driver, rep.Docker.Cgroups.IgnoredFlags)
//	if err := rep.Err(); err != nil {
//		return err // every error-level finding, each with its fix
//	}
//
// The checks cover what Docker's rootless documentation lists, what its setup tool checks, and
// what users run into: unprivileged user namespaces (the sysctls, and a probe), AppArmor
// (Ubuntu's kernel.apparmor_restrict_unprivileged_userns, and any profile without `userns,`
// that confines the program that will create the namespaces; the fix is the ready-to-paste
// profile for that exact path), newuidmap/newgidmap and no_new_privs, the subordinate id ranges
// (package idmap), nesting, the runtime directory (set, the user's own, 0700, not in /tmp), the
// state directory and the data root (not NFS, not in use by another daemon), other daemons (a
// rootful one on /var/run/docker.sock, nerdctl's containerd-rootless.sh, a daemon on this
// socket), the network driver's programs and versions (netdriver, portdriver), /dev/net/tun,
// iptables inside the namespace, storage, cgroups and systemd (cgroupdeleg: delegation, the
// user manager, its D-Bus, lingering), the sysctls behind ping and privileged ports (for the
// program that really binds them), the default route's MTU, loopback resolvers, and the
// kernel's configuration where /proc/config.gz or /boot/config-* has it. Launch refuses
// unsafe set-ups: running as root, a state directory under /tmp or reachable by other users, a
// data root on NFS, and a TCP API without TLS.
//
// Some answers need a process in a fresh namespace. Check (and Resolve) run three, at once and
// alongside the rest: an overlay mount with an upper layer inside a new user and mount namespace
// (in a temporary directory next to the data root, removed before Check returns), and
// iptables's nat and filter tables inside a new user and network namespace, where dockerd will
// use them. They cost a few milliseconds; a successful answer is kept for the life of the
// process, by the versions of the programs and the kernel settings it depends on, so a repeated
// Check starts no process. Nothing else is changed. [Diagnose] maps the error messages users
// meet (Docker's troubleshooting guide, RootlessKit, dockerd, the setup tool, the docker CLI) to
// their cause and fix; [StartError] uses the same map.
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
// netdriver.Slirp4netns{MTU: 65520}; by default the first driver that works on the host is
// chosen in Docker's order, and Plan.Reasons says why. [WithSourceIP], [WithHostLoopback],
// [WithIPv6] and [WithMTUClamp] ask for what users usually want and pick a valid combination;
// each documents its trade-off. [Daemon.Ports] adds, lists and removes published ports at run
// time. [WithScriptEnv] reads dockerd-rootless.sh's DOCKERD_ROOTLESS_ROOTLESSKIT_* variables;
// options after it override what it set.
//
// # Lifetime
//
// The context given to Launch bounds startup only. On failure nothing is left behind, and the
// error is a [*StartError] with the stage, the last log lines and, for known failures, the
// cause and fix. The daemon runs until [Daemon.Shutdown] or [Daemon.Close], or until this
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
//
// # Platforms
//
// Rootless Docker runs on Linux. The package compiles everywhere, so that IDE plugins and dev
// tools built for macOS and Windows can link it; there Launch, Resolve, Check and RemoveAll
// return [ErrNotSupported].
package rootless
