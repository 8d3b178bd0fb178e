package rootless

import "strings"

// A symptom is a failure whose message is known, from Docker's rootless troubleshooting guide
// and from what users of rootless Docker report, with its cause and fix.
type symptom struct {
	all    []string // every one must occur in the same line
	cause  string
	remedy string
}

// symptoms are checked in order; the first match wins, so specific ones come first.
var symptoms = []symptom{
	{[]string{"fork/exec /proc/self/exe: operation not permitted"},
		"unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0), or a seccomp profile of an outer container forbids them",
		"add kernel.unprivileged_userns_clone=1 to /etc/sysctl.d/50-rootless.conf and run: sudo sysctl --system (in a container: run it with --privileged)"},
	{[]string{"fork/exec /proc/self/exe: no space left on device"},
		"user.max_user_namespaces is too small",
		"add user.max_user_namespaces=28633 to /etc/sysctl.d/51-rootless.conf and run: sudo sysctl --system"},
	{[]string{"fork/exec /proc/self/exe: permission denied"},
		"AppArmor denies the program that creates the namespaces a user namespace: Ubuntu >= 24.04 (kernel.apparmor_restrict_unprivileged_userns=1) allows them only to programs whose profile has `userns,`, and AppArmor 4 denies them under any profile without it",
		"add a profile with `userns,` for the exact program that creates them (this executable with the embedded engine, the rootlesskit binary with the external one): rootless.Check prints it ready to paste, then: sudo apparmor_parser -r /etc/apparmor.d/FILE; or use the packaged rootlesskit, whose profile allows it: rootless.WithEngine(rootless.EngineExternal) (EngineAuto falls back to it by itself)"},
	{[]string{`apparmor="DENIED"`, `operation="userns_create"`},
		"the kernel's audit log shows AppArmor denying a user namespace to the profile it names",
		"add the line `userns,` to that profile in /etc/apparmor.d and run: sudo apparmor_parser -r /etc/apparmor.d/FILE (rootless.Check names the file and line)"},
	{[]string{"failed to compute uid/gid map"},
		"no subordinate uid/gid range is configured for this user in /etc/subuid and /etc/subgid",
		"give the user 65536 ids: sudo usermod --add-subuids START-END --add-subgids START-END USER (rootless.Check suggests a free range)"},
	{[]string{"missing necessary entries in /etc/subuid"}, // docker:dind-rootless's entrypoint
		"the container's user has no subordinate ids in the image's /etc/subuid and /etc/subgid (OpenShift's random uids, a user added at run time)",
		"run the container as uid 1000 (rootless's user in the image), or add \"USER:100000:65536\" for the running uid to /etc/subuid and /etc/subgid in the image"},
	{[]string{"newuidmap: Could not set caps"},
		"newuidmap has neither the setuid bit nor file capabilities (a self-built shadow, or an image that dropped them)",
		"reinstall it: sudo apt-get install --reinstall uidmap (Fedora/RHEL: sudo dnf reinstall shadow-utils), or sudo chmod u+s /usr/bin/newuidmap /usr/bin/newgidmap"},
	{[]string{"newuidmap", "Operation not permitted"},
		"newuidmap cannot write the map: it is not setuid root (or lacks file capabilities), or this process already runs in a user namespace",
		"reinstall it setuid: sudo apt-get install --reinstall uidmap (or sudo chmod u+s /usr/bin/newuidmap /usr/bin/newgidmap); inside a container run the outer container with --privileged"},
	{[]string{"newgidmap", "Operation not permitted"},
		"newgidmap cannot write the map: it is not setuid root (or lacks file capabilities)",
		"reinstall it setuid: sudo apt-get install --reinstall uidmap (or sudo chmod u+s /usr/bin/newgidmap)"},
	{[]string{"newuidmap", "not allowed"},
		"the uid map asks for ids outside this user's ranges in /etc/subuid",
		"check the ranges with rootless.Check; after editing /etc/subuid restart the daemon"},
	{[]string{"newgidmap", "not allowed"},
		"the gid map asks for ids outside this user's ranges in /etc/subgid",
		"check the ranges with rootless.Check; after editing /etc/subgid restart the daemon"},
	{[]string{"write to uid_map failed: Invalid argument"},
		"the subordinate ranges overlap each other or contain the user's own uid",
		"remove duplicate or overlapping lines for this user from /etc/subuid and /etc/subgid (rootless.Check names them)"},
	{[]string{"write to gid_map failed: Invalid argument"},
		"the subordinate ranges overlap each other or contain the user's own gid",
		"remove duplicate or overlapping lines for this user from /etc/subuid and /etc/subgid (rootless.Check names them)"},
	{[]string{"/dev/net/tun", "ermission denied"},
		"/dev/net/tun is not accessible to users, so RootlessKit cannot create the tap device",
		"run: sudo chmod 0666 /dev/net/tun (and make it persistent with a udev rule: KERNEL==\"tun\", MODE=\"0666\")"},
	{[]string{"/run/xtables.lock: Permission denied"},
		"SELinux denies iptables its lock file (moby#41230; fixed in Docker 20.10.8)",
		"sudo dnf install -y policycoreutils-python-utils && sudo semanage permissive -a iptables_t"},
	{[]string{"can't initialize iptables table", "Table does not exist"},
		"the kernel lacks an iptables module (ip_tables, iptable_nat, iptable_filter) that an unprivileged user cannot load; openSUSE and SLES do not load them on demand",
		"sudo modprobe ip_tables iptable_mangle iptable_nat iptable_filter, and list them in /etc/modules-load.d/ (Fedora/RHEL 10 have no legacy modules: sudo dnf install -y iptables-nft)"},
	{[]string{"Failed to initialize nft: Protocol not supported"},
		"the kernel lacks the nf_tables module that iptables-nft needs, and an unprivileged user cannot load it",
		"sudo modprobe nf_tables nft_chain_nat nft_compat, and list them in /etc/modules-load.d/"},
	{[]string{"could not get XDG_RUNTIME_DIR"},
		"XDG_RUNTIME_DIR is not set: the session was not started by pam_systemd (sudo -iu, su, cron, a CI agent)",
		"log in through ssh USER@localhost or machinectl shell USER@ (then XDG_RUNTIME_DIR=/run/user/UID is set), or on a host without systemd: export XDG_RUNTIME_DIR=$HOME/.docker/run && mkdir -p -m 700 $XDG_RUNTIME_DIR; rootless.WithStateDir needs neither"},
	{[]string{"XDG_RUNTIME_DIR needs to be set and writable"}, // dockerd-rootless.sh
		"dockerd-rootless.sh found no writable XDG_RUNTIME_DIR: the session was not started by pam_systemd, or the variable names another user's directory",
		"log in through ssh USER@localhost or machinectl shell USER@, or: export XDG_RUNTIME_DIR=$HOME/.docker/run && mkdir -p -m 700 $XDG_RUNTIME_DIR"},
	{[]string{"Failed to connect to", "bus"},
		"systemctl --user has no user session bus: the shell came from sudo -iu or su, which start no systemd user session (or dbus-user-session is not installed)",
		"log in through pam_systemd instead: ssh USER@localhost, machinectl shell USER@, or the console; for a session without login: sudo loginctl enable-linger USER and export XDG_RUNTIME_DIR=/run/user/$(id -u); if the bus is still missing: sudo apt-get install -y dbus-user-session (Fedora: sudo dnf install -y dbus-daemon) and log in again"},
	{[]string{"Aborting because rootful Docker (/var/run/docker.sock) is running"}, // dockerd-rootless-setuptool.sh
		"a rootful Docker daemon runs, and dockerd-rootless-setuptool.sh refuses to install next to it",
		"sudo systemctl disable --now docker.service docker.socket (Docker's documentation), or run the tool with --force; rootless.Launch works next to it"},
	{[]string{"conflicts with containerd-rootless.sh"},
		"nerdctl's containerd-rootless.sh has its state in XDG_RUNTIME_DIR, and dockerd-rootless.sh (Docker >= 29.4) refuses to share it",
		"stop containerd-rootless.sh (systemctl --user stop containerd) and remove $XDG_RUNTIME_DIR/containerd-rootless; rootless.Launch keeps its paths apart and works next to it"},
	{[]string{"Cannot connect to the Docker daemon at unix:///var/run/docker.sock"},
		"the client looks for the rootful daemon's socket: DOCKER_HOST is not set to the rootless daemon's",
		"export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock (rootless.Daemon.Env and Plan.Env give the exact value), or: docker context use rootless"},
	{[]string{"permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"},
		"the client talks to the rootful daemon's socket, which this user may not use: DOCKER_HOST is not set to the rootless daemon's",
		"export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock (rootless.Daemon.Env gives the exact value); do not add the user to the docker group (that is root for them)"},
	{[]string{"ensure docker is not running"}, // 20.10: "pid file found, ensure ...", 28: "failed to start daemon, ensure ..."
		"another dockerd uses the same pid file",
		"stop that daemon, or give this one its own state directory (WithStateDir)"},
	{[]string{"cannot expose privileged port"},
		"ports below 1024 need privileges that an unprivileged user lacks",
		"use a port >= 1024, or add net.ipv4.ip_unprivileged_port_start=0 to /etc/sysctl.conf and run sudo sysctl --system, or sudo setcap cap_net_bind_service=ep on the process that binds (rootlesskit, or this program for the embedded engine)"},
	{[]string{"Limitation discarded"},
		"rootless dockerd runs without cgroups here (cgroup v1, or systemd is not init: \"Cgroup Driver: none\"), so it ignores --cpus, --memory, --pids-limit and the other limits",
		"boot with cgroup v2 and systemd as init (systemd.unified_cgroup_hierarchy=1), and delegate the controllers: rootless.Check prints the Delegate= drop-in"},
	{[]string{"cgroup.controllers: no such file or directory", "user.slice"},
		"systemd's cgroup tree is not at the cgroup root (WSL 2.9 nests it), where rootless dockerd looks for the user's slice (moby#53531)",
		"no dockerd setting avoids it yet: run rootful Docker there, or a WSL release before 2.9"},
	{[]string{"native.cgroupdriver=systemd requires cgroup v2"},
		"the systemd cgroup driver needs cgroup v2 in rootless mode",
		"remove native.cgroupdriver=systemd from exec-opts, or boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)"},
	{[]string{"rootlesskit-docker-proxy not installed"},
		"this dockerd (< 28) publishes ports through rootlesskit-docker-proxy, which is missing",
		"install it (Debian/Ubuntu: apt-get install rootlesskit) or put it in Binaries.Path"},
	{[]string{"lchown", "operation not permitted"},
		"the data root is on NFS (or another filesystem that ignores user-namespace ids)",
		`move the data root to a local filesystem: rootless.WithDataRoot("/somewhere-out-of-nfs")`},
	{[]string{"lchown", "invalid argument"},
		"the image has files owned by ids beyond this user's subordinate range",
		"give the user at least 65536 subordinate ids in /etc/subuid and /etc/subgid, then restart the daemon"},
	{[]string{"overlay is not supported for Rootless with SELinux"},
		"overlay2 cannot be used in rootless mode with SELinux",
		"install fuse-overlayfs and set \"storage-driver\": \"fuse-overlayfs\" in daemon.json"},
	{[]string{"failed to mount overlay", "operation not permitted"},
		"this kernel does not allow overlayfs in a user namespace (needs >= 5.11, or Ubuntu's patch)",
		"install fuse-overlayfs (sudo apt-get install -y fuse-overlayfs) or upgrade the kernel"},
	{[]string{"read unix @->/run/systemd/private", "connection reset by peer"},
		"there is no D-Bus session for this user, which the systemd cgroup driver needs",
		"sudo apt-get install -y dbus-user-session (or dnf install -y dbus-daemon), log in again, then: systemctl --user enable --now dbus"},
	{[]string{"ping: permission denied (are you root?)"},
		"net.ipv4.ping_group_range leaves out the user's gid, which containers' root maps to",
		"echo 'net.ipv4.ping_group_range = 0 2147483647' | sudo tee /etc/sysctl.d/52-rootless-ping.conf && sudo sysctl --system"},
	{[]string{"TLS handshake timeout"},
		"the namespace's MTU (65520 for slirp4netns) is larger than the path's (a VPN, PPPoE or a cloud overlay), so large packets are lost",
		"clamp it: rootless.WithMTUClamp(true) (or DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=<the default route's MTU>), and \"mtu\" in daemon.json for the containers' bridge"},
	{[]string{"Iptables not found"},
		"dockerd cannot find iptables in its PATH",
		"sudo apt-get install -y iptables (Fedora: sudo dnf install -y iptables), or put its directory in Binaries.Path, or WithDockerdArgs(\"--iptables=false\")"},
	{[]string{"could not exchange DHCP"}, // RootlessKit's lxc-user-nic child, after 30 s
		"lxc-user-nic's namespace got no DHCP answer on its bridge: no DHCP server serves the bridge",
		"start lxc's lxc-net service (it runs dnsmasq with DHCP and NAT on lxcbr0), or run a DHCP server on the bridge, e.g. sudo dnsmasq --interface=BRIDGE --bind-interfaces --dhcp-range=10.0.3.2,10.0.3.254 (and NAT for outbound traffic)"},
	{[]string{"slirp4netns", "executable file not found"},
		"slirp4netns is not installed",
		"sudo apt-get install -y slirp4netns, or choose another network driver (WithNetwork)"},
	{[]string{"pasta", "executable file not found"},
		"pasta (passt) is not installed",
		"sudo apt-get install -y passt, or choose another network driver (WithNetwork)"},
	{[]string{"address already in use"},
		"a socket or published port of this daemon is already taken",
		"stop whatever uses it, or choose another state directory or port"},
}

// Diagnose explains an error message or log of rootless Docker: the cause and fix of the last
// failure it knows in text, looked up line by line from the end (the line closest to the
// failure explains it best); "", "" if none is known. It knows the failures of Docker's
// rootless troubleshooting guide, of RootlessKit, dockerd, dockerd-rootless.sh and its setup
// tool, and the docker CLI's messages for a missing DOCKER_HOST. [StartError] and [ExitError]
// carry its answer for the daemon's own log.
//
//	cause, fix := rootless.Diagnose("docker: Error response from daemon: ... cannot expose privileged port 80, ...")
func Diagnose(text string) (cause, fix string) {
	return diagnose(strings.Split(text, "\n"))
}

// diagnose returns the cause and remedy of the last known symptom in the log lines, newest
// first: the line closest to the failure explains it best.
func diagnose(lines []string) (cause, remedy string) {
	for i := len(lines) - 1; i >= 0; i-- {
		for _, s := range symptoms {
			if containsAll(lines[i], s.all) {
				return s.cause, s.remedy
			}
		}
	}
	return "", ""
}

func containsAll(line string, subs []string) bool {
	for _, s := range subs {
		if !strings.Contains(line, s) {
			return false
		}
	}
	return true
}
