package netdriver

import (
	"context"
)

// None is a network namespace with only a loopback interface (--net=none,
// RootlessKit 2.1 or later): nothing inside can reach out, but ports can
// still be published with the builtin port driver (its default). Useful for
// hermetic builds and tests.
type None struct{}

var _ Driver = None{}

// Name returns "none".
func (None) Name() string { return NameNone }

// Check needs ip and nsenter, which RootlessKit runs to bring up loopback.
func (None) Check(ctx context.Context, h *Host) error {
	if err := begin(ctx, h, NameNone); err != nil {
		return err
	}
	return join(checkNamespaceTools(h, NameNone, true))
}

func (None) describe(ctx context.Context, h *Host) string { return "loopback-only namespace" }

// Properties reports no outbound network and no interface to configure.
func (None) Properties() Properties {
	return Properties{
		Namespace:         true,
		NetThroughput:     ThroughputNA,
		DefaultPortDriver: portBuiltin,
		PortDrivers:       []string{portBuiltin, portNone},
		MinRootlessKit:    v2_1,
		Notes:             "loopback only: no outbound connectivity",
	}
}

// Flags returns --net=none (RootlessKit 2.1).
func (d None) Flags(v Version, portDriver string) ([]string, error) {
	if err := CheckTarget(NameNone, v); err != nil {
		return nil, err
	}
	if _, err := portName(NameNone, d.Properties(), portDriver); err != nil {
		return nil, err
	}
	if err := RequireVersion(NameNone, "--net=none", v, v2_1); err != nil {
		return nil, err
	}
	return []string{"--net=none"}, nil
}

// HostNetwork shares the host's network namespace (--net=host, RootlessKit's
// default). Docker rejects it: dockerd-rootless.sh fails with "Unsupported
// RootlessKit network driver: host", because dockerd then cannot create
// bridges and iptables rules (moby#51379). [HostNetwork.Check] says so. It
// is here for completeness and for programs other than dockerd.
//
// To give containers the host's network speed, keep a namespaced driver and
// detach the network namespace (--detach-netns, RootlessKit 2.0): dockerd
// then runs in the host's network namespace and "docker run --net=host"
// works.
type HostNetwork struct{}

var _ Driver = HostNetwork{}

// Name returns "host".
func (HostNetwork) Name() string { return NameHost }

// Check always reports [IDHostNetwork]: Docker does not support it.
func (HostNetwork) Check(ctx context.Context, h *Host) error {
	if err := checkCtx(ctx, NameHost); err != nil {
		return err
	}
	return Problem(IDHostNetwork, NameHost, `the host network has no network namespace; dockerd-rootless.sh rejects it ("Unsupported RootlessKit network driver: host") and dockerd cannot create its bridge there`, "use a namespaced network (slirp4netns, pasta or gvisor-tap-vsock); for host-speed container networking detach the network namespace and run containers with --net=host")
}

func (HostNetwork) describe(ctx context.Context, h *Host) string { return "host network namespace" }

// Properties reports no namespace: native speed, nothing to publish.
func (HostNetwork) Properties() Properties {
	return Properties{
		NetThroughput:     Fast,
		DefaultPortDriver: portNone,
		PortDrivers:       []string{portNone},
		MinRootlessKit:    minSupported,
		Notes:             "no network namespace; rejected by Docker",
	}
}

// Flags returns --net=host.
func (d HostNetwork) Flags(v Version, portDriver string) ([]string, error) {
	if err := CheckTarget(NameHost, v); err != nil {
		return nil, err
	}
	if _, err := portName(NameHost, d.Properties(), portDriver); err != nil {
		return nil, err
	}
	return []string{"--net=host"}, nil
}
