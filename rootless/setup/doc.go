// Package setup installs a rootless Docker daemon for a user, the way Docker's
// dockerd-rootless-setuptool.sh does, as plans you can print before anything happens: a
// systemd user service, or the command to run it by hand where there is no systemd, and the
// docker CLI context "rootless". It also removes all of that again, and applies the host
// remedies for privileged ports and ping.
//
// # Plans
//
// [Install] and [Uninstall] change nothing. They read the user's files and return a [Plan]:
// every file that would be written or removed and every command that would run, as values.
// Print it for a dry run, inspect it in a test, or apply it:
//
//	p, err := setup.Install(ctx, setup.WithLauncher("/usr/local/bin/launcher"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	fmt.Print(p)                   // the full unit text, the drop-in, systemctl ..., the context
//	err = p.Apply(ctx, nil)        // do it
//	for _, n := range p.Notes {    // linger, what to export, or how to run it by hand
//		fmt.Println(n.Severity, n.Text)
//	}
//
// Commands run through a [Runner] ([ExecRunner] by default): systemctl, sysctl and setcap,
// nothing else. [WithRoot] points every file at a tree of your own, for tests and images.
//
// # The service
//
// With systemd, Install writes ~/.config/systemd/user/docker.service with the semantics of
// Docker's unit (Type=notify with NotifyAccess=all, Delegate=yes, KillMode=mixed,
// Restart=always, no limits, Requires=dbus.socket where the user has D-Bus), then runs
// `systemctl --user daemon-reload`, `enable` and `start`. The unit runs a launcher, a program
// built on package rootless such as examples/launcher, which tells systemd READY=1 only once
// the Docker API answers: `systemctl --user start` returns when the daemon can be used, with no
// sleep. The settings ([Settings]: network driver, MTU, port driver, extra dockerd flags) go in
// the drop-in docker.service.d/10-rootlessd.conf as dockerd-rootless.sh's environment
// variables, so overrides written for Docker's script keep working and sort after it.
//
// The unit's PATH is not the installing shell's: it is the directories where Install found the
// daemon's programs (dockerd, containerd, runc, docker-proxy, slirp4netns, ..., looked up in
// [WithSearchPath], then the user's PATH, then the system directories), in that order, followed
// by /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin. Every program resolves to the
// file Install found, and nothing else of the shell's PATH gets in.
//
// The notes say whether linger is on (/var/lib/systemd/linger/USER), and give the exact
// `sudo loginctl enable-linger USER` line when it is not: without it the daemon starts only at
// login.
//
// # Drift
//
// An installed unit, drop-in or context that differs from what Install would write is never
// skipped silently, as Docker's tool does: it is listed in [Plan.Drift] with a unified diff,
// and Apply refuses to change anything until [WithUpdate](true) says to replace it. A file
// with the same options (comments and blank lines aside) is left alone.
//
// # Without systemd
//
// Where there is no systemd user manager (containers, CI machines, WSL), Install writes no
// unit. [Plan.Manual] is the exact command line that runs the daemon (the launcher, with
// XDG_RUNTIME_DIR, PATH and the settings in its environment), and [Plan.Env] what to export:
// DOCKER_HOST, and PATH when the launcher or the docker CLI is outside the user's PATH. Check
// reports a systemd machine whose manager this session cannot reach (after su or sudo), with
// Docker's remedy.
//
// # The CLI context
//
// Install creates the docker CLI context "rootless" for the daemon's socket, in
// $DOCKER_CONFIG/contexts (default ~/.docker), with the CLI's own context store library, and
// makes it current. That is also what makes `docker -H ssh://user@host` work: the docker CLI
// runs `docker system dial-stdio` on the remote side, in a session that has no DOCKER_HOST and,
// without pam_systemd, no XDG_RUNTIME_DIR; the current context in the remote user's
// ~/.docker/config.json still names the socket.
//
// # Uninstall
//
// [Uninstall] stops and disables the service, removes the unit and every drop-in, reloads
// systemd, removes the context (and makes "default" current if it was), and keeps the data
// unless [WithRemoveData](true), which removes the data root with rootless.RemoveAll. It needs
// none of the daemon's prerequisites, so it works after the subordinate ids or dockerd are gone.
//
// # Before installing
//
// [Check] runs rootless.Check for the daemon exactly as the unit will start it (settings, PATH,
// runtime directory) and adds the checks of Docker's tool: a rootful Docker this user can
// reach ([WithForce] ignores it), the su/sudo session, a conflicting containerd-rootless.sh.
// [WithSkipIptables] ignores a missing iptables and makes Install pass --iptables=false.
//
// # Privileged ports and ping
//
// [AllowPrivilegedPortsBySysctl], [AllowPrivilegedPortsByCapability] and [AllowPing] return
// plans for root with the remedies of Docker's documentation (a file in /etc/sysctl.d loaded
// with sysctl -p, or setcap cap_net_bind_service=ep on the program that binds the ports). Root
// applies them; for anyone else, Apply returns the exact script to run with sudo
// ([Plan.Script]).
//
// # Debugging
//
// [Enter] runs a command in the daemon's namespaces, like `dockerd-rootless-setuptool.sh
// nsenter`, for any RootlessKit state directory ([RootlessKitStateDir]).
package setup
