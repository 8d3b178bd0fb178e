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
		"AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu >= 24.04) and this program has no profile granting userns",
		"use the packaged rootlesskit, which has a profile: rootless.WithEngine(rootless.EngineExternal) (EngineAuto does this by itself when /usr/bin/rootlesskit exists), or add an AppArmor profile with `userns,` for this executable and run: sudo systemctl restart apparmor.service"},
	{[]string{"failed to compute uid/gid map"},
		"no subordinate uid/gid range is configured for this user in /etc/subuid and /etc/subgid",
		"give the user 65536 ids: sudo usermod --add-subuids START-END --add-subgids START-END USER (rootless.Check suggests a free range)"},
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
	{[]string{"ensure docker is not running"}, // 20.10: "pid file found, ensure ...", 28: "failed to start daemon, ensure ..."
		"another dockerd uses the same pid file",
		"stop that daemon, or give this one its own state directory (WithStateDir)"},
	{[]string{"cannot expose privileged port"},
		"ports below 1024 need privileges that an unprivileged user lacks",
		"use a port >= 1024, or add net.ipv4.ip_unprivileged_port_start=0 to /etc/sysctl.conf and run sudo sysctl --system, or sudo setcap cap_net_bind_service=ep on the process that binds (rootlesskit, or this program for the embedded engine)"},
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
	{[]string{"Iptables not found"},
		"dockerd cannot find iptables in its PATH",
		"sudo apt-get install -y iptables (Fedora: sudo dnf install -y iptables), or put its directory in Binaries.Path, or WithDockerdArgs(\"--iptables=false\")"},
	{[]string{"slirp4netns", "executable file not found"},
		"slirp4netns is not installed",
		"sudo apt-get install -y slirp4netns, or choose another network driver (WithNetwork)"},
	{[]string{"pasta", "executable file not found"},
		"pasta (passt) is not installed",
		"sudo apt-get install -y passt, or choose another network driver (WithNetwork)"},
	{[]string{"address already in use"},
		"a socket or published port of this daemon is already taken",
		"stop whatever uses it, or choose another state directory or port"},
	diskFull, // last: the user-namespace limit above shares its errno
}

// diskFull is a full file system; the launch names which of the daemon's directories is on it.
var diskFull = symptom{[]string{"no space left on device"},
	"a file system the daemon writes to is full",
	"free space on it (df -h shows which), or choose a data root on a larger file system (WithDataRoot)"}

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
