package rootless

import "github.com/rootlessd/rootlessd/diag"

// The IDs of the host checks that Check (and so Resolve and Launch) runs beyond the basics:
// AppArmor, the probes inside a user namespace, storage, the runtime directory, other daemons,
// networking details, nesting and the kernel's configuration.
const (
	// IDUsernsDenied: creating a user namespace failed for a reason the sysctls do not explain
	// (a seccomp profile of an outer container, an LSM); the probe's error is the evidence.
	IDUsernsDenied diag.ID = "rootless.userns-denied"
	// IDAppArmorNoProfile: AppArmor restricts unprivileged user namespaces to profiled programs
	// (Ubuntu >= 24.04) and the program that will create them has no profile granting userns.
	IDAppArmorNoProfile diag.ID = "rootless.apparmor-no-profile"
	// IDAppArmorDeniesUserns: the AppArmor profile that confines the program that will create
	// the namespaces denies user namespaces (no `userns,` rule).
	IDAppArmorDeniesUserns diag.ID = "rootless.apparmor-denies-userns"
	// IDAppArmorProfile: AppArmor mediates user namespaces, and the program has what it needs
	// (info: which profile grants it).
	IDAppArmorProfile diag.ID = "rootless.apparmor-profile"
	// IDIptablesUnusable: iptables (or nft) fails inside a user and network namespace, where
	// dockerd runs it.
	IDIptablesUnusable diag.ID = "rootless.iptables-unusable"
	// IDStorageVFS: dockerd will fall back to the vfs storage driver (a full copy per layer).
	IDStorageVFS diag.ID = "rootless.storage-vfs"
	// IDOverlayUnsupported: the overlay mount probe inside a user namespace failed, so dockerd
	// cannot use overlay2 (or containerd's overlayfs snapshotter).
	IDOverlayUnsupported diag.ID = "rootless.overlay-unsupported"
	// IDSnapshotterOldKernel: Docker 29's default containerd image store needs overlayfs in a
	// user namespace, which kernels before 5.11 (other than Ubuntu's) do not have.
	IDSnapshotterOldKernel diag.ID = "rootless.snapshotter-old-kernel"
	// IDBtrfsSubvolRm: the data root is on btrfs without user_subvol_rm_allowed on a kernel
	// before 4.18, so dockerd cannot delete the subvolumes of removed images and containers.
	IDBtrfsSubvolRm diag.ID = "rootless.btrfs-subvol-rm"
	// IDRuntimeDirUnset: XDG_RUNTIME_DIR is unset (su, sudo -iu, cron), and /run/user/UID is used.
	IDRuntimeDirUnset diag.ID = "rootless.runtime-dir-unset"
	// IDRuntimeDirOwner: XDG_RUNTIME_DIR belongs to another user (root's, after su).
	IDRuntimeDirOwner diag.ID = "rootless.runtime-dir-owner"
	// IDRuntimeDirMode: XDG_RUNTIME_DIR is not mode 0700.
	IDRuntimeDirMode diag.ID = "rootless.runtime-dir-mode"
	// IDRuntimeDirUnsafe: XDG_RUNTIME_DIR lies in a directory every user can write to (/tmp).
	IDRuntimeDirUnsafe diag.ID = "rootless.runtime-dir-unsafe"
	// IDRootfulDaemon: a rootful Docker daemon listens on /var/run/docker.sock.
	IDRootfulDaemon diag.ID = "rootless.rootful-daemon"
	// IDContainerdRootless: nerdctl's containerd-rootless.sh has its state in XDG_RUNTIME_DIR;
	// an error when this daemon's paths would meet it.
	IDContainerdRootless diag.ID = "rootless.containerd-rootless"
	// IDSocketInUse: a daemon already listens on the socket this daemon would bind (wraps
	// ErrAlreadyRunning).
	IDSocketInUse diag.ID = "rootless.socket-in-use"
	// IDDataRootInUse: a running process (another dockerd) holds a lock in the data root
	// (wraps ErrAlreadyRunning).
	IDDataRootInUse diag.ID = "rootless.data-root-in-use"
	// IDDNSLoopback: /etc/resolv.conf names only loopback nameservers (systemd-resolved's
	// 127.0.0.53), which the namespace cannot reach by itself.
	IDDNSLoopback diag.ID = "rootless.dns-loopback"
	// IDNestedUserns: this process already runs inside a user namespace.
	IDNestedUserns diag.ID = "rootless.nested-userns"
	// IDNoNewPrivs: the process runs with no_new_privs, so setuid newuidmap and newgidmap
	// cannot write the maps.
	IDNoNewPrivs diag.ID = "rootless.no-new-privs"
	// IDKernelNoUserns: the kernel is built without user namespaces (CONFIG_USER_NS).
	IDKernelNoUserns diag.ID = "rootless.kernel-no-userns"
	// IDKernelNoOverlay: the kernel is built without overlayfs (CONFIG_OVERLAY_FS).
	IDKernelNoOverlay diag.ID = "rootless.kernel-no-overlay"
	// IDSystemdDriverNeedsV2: native.cgroupdriver=systemd is set on a host without cgroup v2,
	// which rootless dockerd refuses.
	IDSystemdDriverNeedsV2 diag.ID = "rootless.systemd-driver-needs-v2"
)

// doctorIDs lists the IDs above, for IDs.
func doctorIDs() []diag.ID {
	return []diag.ID{IDUsernsDenied, IDAppArmorNoProfile, IDAppArmorDeniesUserns, IDAppArmorProfile,
		IDIptablesUnusable, IDStorageVFS, IDOverlayUnsupported, IDSnapshotterOldKernel, IDBtrfsSubvolRm,
		IDRuntimeDirUnset, IDRuntimeDirOwner, IDRuntimeDirMode, IDRuntimeDirUnsafe,
		IDRootfulDaemon, IDContainerdRootless, IDSocketInUse, IDDataRootInUse, IDDNSLoopback,
		IDNestedUserns, IDNoNewPrivs, IDKernelNoUserns, IDKernelNoOverlay, IDSystemdDriverNeedsV2}
}
