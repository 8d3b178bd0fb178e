// Package cgroupdeleg tells whether rootless Docker can enforce resource
// limits for a user, and if not, exactly what to change. It reads the
// host (never writes it) and reports the cgroup mode, the controllers
// systemd delegated to the user, the systemd facts behind them, and a
// list of findings, each with a remedy.
//
// # Overview
//
// Rootless dockerd honours docker run --cpus, --memory, --pids-limit and
// friends only on cgroup v2 with systemd as init, and only for the cgroup
// controllers systemd delegated to the user's manager, user@UID.service.
// Otherwise docker info reports "Cgroup Driver: none" and the flags are
// ignored. [Detect] checks all of it:
//
//	r, err := cgroupdeleg.Detect(ctx, cgroupdeleg.Host(), os.Getuid())
//	if err != nil {
//		return err // only a canceled ctx or bad arguments
//	}
//	fmt.Println(r.Mode, r.Delegated, r.Missing) // unified [memory pids] [cpu cpuset io]
//	for _, f := range r.Findings {
//		fmt.Printf("%s %s: %s\n%s\n%s\n", f.Severity, f.ID, f.Detail, f.Evidence, f.Fix)
//	}
//
// Pass the controllers you need after the uid; the default is
// [DefaultControllers], cpu cpuset io memory pids.
//
// # What is checked
//
// The mode comes from the filesystem type of /sys/fs/cgroup and
// /sys/fs/cgroup/unified ([DetectMode]), never from a "0::" line in
// /proc/self/cgroup, which hybrid hosts have too.
//
// Delegation is judged by ownership, as the kernel judges it: a controller
// counts as delegated when it is listed in cgroup.controllers of
// user@UID.service's cgroup and the user owns that cgroup and its
// cgroup.procs and cgroup.subtree_control (plus the cgroup.* entries of
// /sys/kernel/cgroup/delegate). Controllers that a session scope or
// user-UID.slice lists, which podman and dockerd report, do not count. The
// cgroup is found below systemd's own root, taken from /proc/1/cgroup, so
// nested hierarchies (WSL 2.9) work; without a user manager the process's
// own cgroup is examined instead.
//
// The systemd side comes from files: systemd is PID 1 if
// /run/systemd/system is a directory; its version is in the name of
// libsystemd-shared-VERSION.so; Delegate= of user@UID.service is computed
// from the unit file and its drop-ins in /etc, /run and /usr/lib (template
// and instance directories) with systemd's rules, see [ParseDelegate];
// lingering is /var/lib/systemd/linger/USER; the user's bus is
// $DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus.
//
// # Findings
//
// Each finding is a [*diag.Finding], the shape every rootlessd package
// shares: a stable ID of the form cgroupdeleg.NAME (the IDxxx constants,
// all listed by [IDs]), a severity, a Detail, the Evidence that shows the
// problem (a cgroup.controllers path and its content, the unit file:line
// with Delegate=, the path that is missing, the bus address, the
// filesystem types) and a Fix: a shell snippet or file content.
// diag.Error means containers will fail to start; diag.Warning means
// limits will be refused or ignored; diag.Info is context. The IDs, with
// the gist of their fix:
//
//	cgroup-v1, cgroup-hybrid, cgroup-unavailable  limits ignored; boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)
//	no-systemd                                     warning: dockerd runs without cgroups; limit per process (cpulimit, ulimit)
//	not-delegated, not-owned                       install the delegate.conf drop-in from [DropIn], daemon-reload
//	delegate-pending                               the drop-in exists; restart the user manager
//	cpuset-needs-systemd-244                       upgrade systemd
//	no-user-manager, no-linger                     loginctl enable-linger, or a real login instead of su/sudo
//	no-user-bus                                    install dbus-user-session; systemctl --user enable --now dbus
//	nested-systemd                                 WSL 2.9: dockerd cannot find user.slice (moby/moby#53531)
//	invalid-delegate, unparsable, unreadable       fix or check the named file
//
// A *diag.Finding is an error: [Report.Err] joins the diag.Error
// findings, errors.Is matches them by ID, and every finding has Remedy()
// and Unwrap(), so callers that do not import this package can still
// find the fix:
//
//	if errors.Is(r.Err(), cgroupdeleg.IDNoUserManager) { ... }
//	var rem interface{ Remedy() string }
//	if errors.As(err, &rem) {
//		fmt.Fprintln(os.Stderr, "fix:", rem.Remedy())
//	}
//
// # Testing without the host
//
// Everything goes through a [Sys]: a root fs.FS, statfs, file owners and
// the environment. [Host] is the real machine; [Fixture] reads a recorded
// tree whose manifest supplies what files cannot (filesystem types,
// owners, environment). testdata/hosts has trees for a delegated cgroup v2
// host, systemd's default delegation, a hybrid host without systemd, an
// OpenRC host, WSL 2.9, and more.
//
// # Not covered
//
// The package does not change the host. Enabling controllers in a cgroup
// that still holds processes fails with EBUSY; move them to a leaf first
// (RootlessKit's --evacuate-cgroup2 does).
package cgroupdeleg
