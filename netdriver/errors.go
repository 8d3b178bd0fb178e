package netdriver

import (
	"strings"

	"github.com/rootlessd/rootlessd/diag"
)

// The IDs of the findings the drivers report ([diag.Finding]). Package
// portdriver reports the same IDs. IDs never change once released; match
// them with errors.Is:
//
//	if errors.Is(err, netdriver.IDBinaryMissing) { ... }
const (
	// IDBinaryMissing: a program the driver runs is not in the Host's PATH
	// (or at the configured path).
	IDBinaryMissing diag.ID = "netdriver.binary-missing"
	// IDBinaryFailed: a program is present but failed when probed
	// (for example "slirp4netns --help" exited non-zero).
	IDBinaryFailed diag.ID = "netdriver.binary-failed"
	// IDSlirp4netnsTooOld: slirp4netns lacks --netns-type (older than
	// 0.4.0) or a flag the configuration needs.
	IDSlirp4netnsTooOld diag.ID = "netdriver.slirp4netns-too-old"
	// IDPastaTooOld: pasta is older than the release a feature needs
	// (2023_06_25 for RootlessKit, 2023_12_04 for the implicit port driver,
	// 2026_05_07 for the pesto port driver).
	IDPastaTooOld diag.ID = "netdriver.pasta-too-old"
	// IDPastaVersionUnknown: pasta does not say which release it is
	// (Debian's build prints "unknown version"). Always a warning.
	IDPastaVersionUnknown diag.ID = "netdriver.pasta-version-unknown"
	// IDNotSetuid: lxc-user-nic is not setuid root.
	IDNotSetuid diag.ID = "netdriver.lxc-user-nic-not-setuid"
	// IDLXCUserNet: /etc/lxc/lxc-usernet has no veth entry for the user and bridge.
	IDLXCUserNet diag.ID = "netdriver.lxc-usernet"
	// IDLXCBridge: the bridge lxc-user-nic attaches to does not exist, or is
	// not a bridge.
	IDLXCBridge diag.ID = "netdriver.lxc-bridge-missing"
	// IDHostNetwork: the "host" network (no network namespace) was requested;
	// dockerd-rootless.sh rejects it ("Unsupported RootlessKit network driver: host").
	IDHostNetwork diag.ID = "netdriver.host-network-unsupported"
	// IDInvalidConfig: a field of a driver value is out of range.
	IDInvalidConfig diag.ID = "netdriver.invalid-config"
	// IDRootlessKitTooOld: the RootlessKit version lacks a driver, port driver or flag.
	IDRootlessKitTooOld diag.ID = "netdriver.rootlesskit-too-old"
	// IDRootlessKitUnknown: no RootlessKit version was given (the zero Version).
	IDRootlessKitUnknown diag.ID = "netdriver.rootlesskit-version-unknown"
	// IDIncompatible: the network driver and the port driver cannot be combined.
	IDIncompatible diag.ID = "netdriver.incompatible-drivers"
	// IDEmbeddedOnly: the network driver and the port driver work together
	// only in the embedded engine: RootlessKit's library runs the pair, but
	// the rootlesskit command refuses it (pasta with builtin).
	IDEmbeddedOnly diag.ID = "netdriver.embedded-engine-only"
	// IDUnsupported: a setting (IPv6, host loopback, source IP, CIDR, ...)
	// cannot be met by the driver.
	IDUnsupported diag.ID = "netdriver.unsupported"
	// IDNotBuiltin: Encode was given a driver that is not one of this
	// package's types, so it cannot travel to the embedded engine.
	IDNotBuiltin diag.ID = "netdriver.not-builtin"
	// IDHostUnavailable: the Host cannot answer (no FS, no Run func).
	IDHostUnavailable diag.ID = "netdriver.host-unavailable"
	// IDPrivilegedPort: a parent port below net.ipv4.ip_unprivileged_port_start
	// cannot be bound by the process that binds it (used by portdriver).
	IDPrivilegedPort diag.ID = "netdriver.privileged-port"
	// IDNoPortAPI: the port driver in use has no port API (implicit, none; used by portdriver).
	IDNoPortAPI diag.ID = "netdriver.no-port-api"
	// IDSourceIPBackend: neither nft nor iptables was found, so the builtin
	// port driver cannot keep the source IP (a warning; used by portdriver).
	IDSourceIPBackend diag.ID = "netdriver.source-ip-backend-missing"
	// IDRootlessKitAPI: the RootlessKit REST API returned an error (used by portdriver).
	IDRootlessKitAPI diag.ID = "netdriver.rootlesskit-api"
)

// IDs lists every ID this package and package portdriver report.
func IDs() []diag.ID {
	return []diag.ID{IDBinaryMissing, IDBinaryFailed, IDSlirp4netnsTooOld, IDPastaTooOld, IDPastaVersionUnknown,
		IDNotSetuid, IDLXCUserNet, IDLXCBridge, IDHostNetwork, IDInvalidConfig, IDRootlessKitTooOld, IDRootlessKitUnknown,
		IDIncompatible, IDEmbeddedOnly, IDUnsupported, IDNotBuiltin, IDHostUnavailable, IDPrivilegedPort, IDNoPortAPI,
		IDSourceIPBackend, IDRootlessKitAPI}
}

// Problem returns an error-level finding of driver (a driver name, or "" when
// the finding concerns no single driver): Detail is prefixed with the driver's
// name, so that "MTU 70000 is out of range" says whose MTU. Package portdriver
// and third-party drivers use it to report findings the way this package does.
func Problem(id diag.ID, driver, detail, fix string) *diag.Finding {
	if driver != "" && !strings.HasPrefix(detail, driver+" ") && !strings.HasPrefix(detail, driver+":") {
		detail = driver + ": " + detail
	}
	return &diag.Finding{ID: id, Severity: diag.Error, Detail: detail, Fix: fix}
}

// Warn is [Problem] with severity warning: the driver may still work.
func Warn(id diag.ID, driver, detail, fix string) *diag.Finding {
	f := Problem(id, driver, detail, fix)
	f.Severity = diag.Warning
	return f
}

// join is diag.Join of a slice.
func join(errs []error) error { return diag.Join(errs...) }

func invalid(driver, detail, fix string) *diag.Finding {
	return Problem(IDInvalidConfig, driver, detail, fix)
}

// withErr sets a finding's cause and evidence.
func withErr(f *diag.Finding, err error, evidence string) *diag.Finding {
	f.Err, f.Evidence = err, evidence
	return f
}
