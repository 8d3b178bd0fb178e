package rootless

import (
	"slices"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/netdriver"
)

// The IDs of the findings this package reports itself. Resolve, Check and Launch also report
// the findings of packages idmap, cgroupdeleg, netdriver and portdriver; [AllIDs] lists every
// ID of all of them. IDs are stable; match one with errors.Is(err, rootless.IDStateDirUnsafe).
const (
	// IDRoot: the program runs as root; rootless mode is for unprivileged users.
	IDRoot diag.ID = "rootless.root"
	// IDNoInit: rootless.Init was not called first in main (wraps ErrNoInit).
	IDNoInit diag.ID = "rootless.no-init"
	// IDRuntimeDirMissing: no state directory was given, and XDG_RUNTIME_DIR is unset (or not
	// absolute) and /run/user/UID does not exist, or it names a directory that does not exist
	// and cannot be made.
	IDRuntimeDirMissing diag.ID = "rootless.runtime-dir-missing"
	// IDStateDirUnsafe: the state directory lies inside a directory every user can write to
	// (/tmp), where another user could create or replace it first.
	IDStateDirUnsafe diag.ID = "rootless.state-dir-unsafe"
	// IDStateDirOwner: the state directory belongs to another user.
	IDStateDirOwner diag.ID = "rootless.state-dir-owner"
	// IDStateDirMode: the state directory is open to other users.
	IDStateDirMode diag.ID = "rootless.state-dir-mode"
	// IDStateDirCreate: the state directory cannot be created.
	IDStateDirCreate diag.ID = "rootless.state-dir-create"
	// IDSocketPathTooLong: a unix socket path of the layout is over 107 bytes.
	IDSocketPathTooLong diag.ID = "rootless.socket-path-too-long"
	// IDDataRootNoHome: no data root was given and there is no home directory to put one in.
	IDDataRootNoHome diag.ID = "rootless.data-root-no-home"
	// IDDataRootNFS: the data root is on NFS, where image layers fail to unpack.
	IDDataRootNFS diag.ID = "rootless.data-root-nfs"
	// IDDataRootCreate: the data root cannot be created.
	IDDataRootCreate diag.ID = "rootless.data-root-create"
	// IDDockerdMissing: no dockerd binary was found.
	IDDockerdMissing diag.ID = "rootless.dockerd-missing"
	// IDDockerdUnusable: dockerd was found but its version cannot be read.
	IDDockerdUnusable diag.ID = "rootless.dockerd-unusable"
	// IDEngineProgramMissing: containerd, containerd-shim-runc-v2 or runc is missing.
	IDEngineProgramMissing diag.ID = "rootless.engine-program-missing"
	// IDRootlessKitMissing: the external engine was asked for, and no rootlesskit was found.
	IDRootlessKitMissing diag.ID = "rootless.rootlesskit-missing"
	// IDRootlessKitUnusable: rootlesskit was found but does not say its version.
	IDRootlessKitUnusable diag.ID = "rootless.rootlesskit-unusable"
	// IDRootlessKitTooOld: the installed rootlesskit is older than 1.1.
	IDRootlessKitTooOld diag.ID = "rootless.rootlesskit-too-old"
	// IDDriverNotEmbeddable: a driver of another package was given to the embedded engine,
	// which can only run netdriver's and portdriver's own.
	IDDriverNotEmbeddable diag.ID = "rootless.driver-not-embeddable"
	// IDNoUsableNetwork: none of the network drivers tried works on this host.
	IDNoUsableNetwork diag.ID = "rootless.no-usable-network"
	// IDNetworkWithoutNamespace: the chosen network has no network namespace (host).
	IDNetworkWithoutNamespace diag.ID = "rootless.network-without-namespace"
	// IDDetachNetNSUnsupported: a detached network namespace was asked for, and RootlessKit
	// or dockerd cannot do it.
	IDDetachNetNSUnsupported diag.ID = "rootless.detach-netns-unsupported"
	// IDDockerProxyMissing: dockerd older than 28 needs rootlesskit-docker-proxy for ports.
	IDDockerProxyMissing diag.ID = "rootless.docker-proxy-missing"
	// IDDockerProxyTooOld: dockerd older than 28 with port driver implicit, and a
	// rootlesskit-docker-proxy of RootlessKit 1 (its Go import path has no /vN), which fails
	// without a port API; RootlessKit 2.0's and later hand the port to docker-proxy. A proxy
	// whose version cannot be told is not refused.
	IDDockerProxyTooOld diag.ID = "rootless.docker-proxy-too-old"
	// IDNsenterMissing: nsenter is missing; Daemon.Command cannot enter the namespaces.
	IDNsenterMissing diag.ID = "rootless.nsenter-missing"
	// IDUsernsCloneDisabled: kernel.unprivileged_userns_clone is 0 (Debian, Arch).
	IDUsernsCloneDisabled diag.ID = "rootless.userns-clone-disabled"
	// IDMaxUserNamespacesZero: user.max_user_namespaces is 0 (RHEL 7).
	IDMaxUserNamespacesZero diag.ID = "rootless.max-user-namespaces-zero"
	// IDUserUnknown: the uid has no passwd entry, so its subordinate ids cannot be looked up.
	IDUserUnknown diag.ID = "rootless.user-unknown"
	// IDCgroupUnknown: the cgroup set-up could not be inspected.
	IDCgroupUnknown diag.ID = "rootless.cgroup-unknown"
	// IDIptablesMissing: iptables is missing and dockerd is not told to do without.
	IDIptablesMissing diag.ID = "rootless.iptables-missing"
	// IDKernelModuleMissing: iptables (or nft) cannot use a table inside a user and network
	// namespace, the probe shows: the kernel lacks a netfilter module only root can load.
	IDKernelModuleMissing diag.ID = "rootless.kernel-module-missing"
	// IDPingDisabled: net.ipv4.ping_group_range leaves out the user's gid, so ping fails in
	// containers.
	IDPingDisabled diag.ID = "rootless.ping-disabled"
	// IDPrivilegedPorts: ports below net.ipv4.ip_unprivileged_port_start cannot be published
	// (a warning), or can be because the binding program has CAP_NET_BIND_SERVICE (info).
	IDPrivilegedPorts diag.ID = "rootless.privileged-ports"
	// IDTunUnusable: /dev/net/tun cannot be opened, so the tap device cannot be created.
	IDTunUnusable diag.ID = "rootless.tun-unusable"
	// IDMTUAboveRoute: the namespace's MTU is above the default route's.
	IDMTUAboveRoute diag.ID = "rootless.mtu-above-route"
)

// IDs lists the IDs of the findings this package reports itself.
func IDs() []diag.ID {
	ids := []diag.ID{IDRoot, IDNoInit, IDRuntimeDirMissing, IDStateDirUnsafe, IDStateDirOwner, IDStateDirMode,
		IDStateDirCreate, IDSocketPathTooLong, IDDataRootNoHome, IDDataRootNFS, IDDataRootCreate, IDDockerdMissing,
		IDDockerdUnusable, IDEngineProgramMissing, IDRootlessKitMissing, IDRootlessKitUnusable, IDRootlessKitTooOld,
		IDDriverNotEmbeddable, IDNoUsableNetwork, IDNetworkWithoutNamespace, IDDetachNetNSUnsupported,
		IDDockerProxyMissing, IDDockerProxyTooOld, IDNsenterMissing, IDUsernsCloneDisabled, IDMaxUserNamespacesZero, IDUserUnknown,
		IDCgroupUnknown, IDIptablesMissing, IDKernelModuleMissing, IDPingDisabled, IDPrivilegedPorts, IDTunUnusable,
		IDMTUAboveRoute}
	return slices.Concat(ids, doctorIDs(), reliabilityIDs())
}

// AllIDs lists, sorted, the ID of every finding Resolve, Check and Launch can report: this
// package's and those of idmap, cgroupdeleg, netdriver and portdriver (which shares
// netdriver's).
func AllIDs() []diag.ID {
	all := slices.Concat(IDs(), idmap.IDs(), cgroupdeleg.IDs(), netdriver.IDs())
	slices.Sort(all)
	return all
}

// problem is an error-level finding of this package.
func problem(id diag.ID, detail, evidence, fix string) *diag.Finding {
	return &diag.Finding{ID: id, Severity: diag.Error, Detail: detail, Evidence: evidence, Fix: fix}
}

// warning is a warning-level finding of this package.
func warning(id diag.ID, detail, evidence, fix string) *diag.Finding {
	return &diag.Finding{ID: id, Severity: diag.Warning, Detail: detail, Evidence: evidence, Fix: fix}
}

// because sets a finding's cause.
func because(f *diag.Finding, err error) *diag.Finding {
	f.Err = err
	return f
}
