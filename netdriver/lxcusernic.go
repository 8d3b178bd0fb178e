package netdriver

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// LXCUserNIC is a veth pair on an LXC bridge, created by the setuid helper
// lxc-user-nic (--net=lxc-user-nic, experimental): kernel networking, so
// the fastest driver, at the price of a setuid-root program and an entry in
// /etc/lxc/lxc-usernet. The address comes from the bridge's DHCP server.
// Host loopback is always blocked; there is no IPv6 and no custom CIDR.
type LXCUserNIC struct {
	// Binary is the lxc-user-nic program. Default: the first of
	// /usr/libexec/lxc/lxc-user-nic, /usr/lib/*-linux-gnu/lxc/lxc-user-nic,
	// /usr/lib/lxc/lxc-user-nic, else "lxc-user-nic" in PATH.
	Binary string `json:"binary,omitempty"`
	// MTU of the veth. Default (0): 1500.
	MTU int `json:"mtu,omitempty"`
	// Bridge is the host bridge. Default: lxcbr0.
	Bridge string `json:"bridge,omitempty"`
	// IfName is the interface name in the namespace. Default: eth0.
	IfName string `json:"ifname,omitempty"`
}

var _ Driver = LXCUserNIC{}

const lxcDefaultBridge = "lxcbr0"

// lxcUserNICPaths are searched, in order, as RootlessKit does.
var lxcUserNICPaths = []string{"/usr/libexec/lxc/lxc-user-nic", "/usr/lib/*-linux-gnu/lxc/lxc-user-nic", "/usr/lib/lxc/lxc-user-nic"}

// Name returns "lxc-user-nic".
func (LXCUserNIC) Name() string { return NameLXCUserNIC }

func (d LXCUserNIC) bridge() string { return orDefault(d.Bridge, lxcDefaultBridge) }

func (d LXCUserNIC) validate() error {
	return join([]error{
		validateBinary(NameLXCUserNIC, "Binary", d.Binary),
		validateMTU(NameLXCUserNIC, d.MTU, false),
		validateIfName(NameLXCUserNIC, "Bridge", d.Bridge),
		validateIfName(NameLXCUserNIC, "IfName", d.IfName),
	})
}

const fixLXCUserNIC = "install lxc-user-nic (apt-get install liblxc-common; dnf install lxc)"

// find returns the lxc-user-nic path on h.
func (d LXCUserNIC) find(h *Host) (string, error) {
	if d.Binary != "" {
		return lookProgram(h, NameLXCUserNIC, d.Binary, fixLXCUserNIC)
	}
	for _, pattern := range lxcUserNICPaths {
		names := []string{pattern}
		if strings.Contains(pattern, "*") && h != nil && h.FS != nil {
			names, _ = fs.Glob(h.FS, strings.TrimPrefix(pattern, "/"))
			for i := range names {
				names[i] = "/" + names[i]
			}
		}
		for _, n := range names {
			if !strings.Contains(n, "*") && h.isExecutable(n) == nil {
				return n, nil
			}
		}
	}
	return lookProgram(h, NameLXCUserNIC, "lxc-user-nic", fixLXCUserNIC)
}

// Check finds lxc-user-nic, checks that it is setuid root, that
// /etc/lxc/lxc-usernet allows the user (or one of its groups) a veth on
// Bridge, and that Bridge is a bridge. It also checks for ip and nsenter.
// It cannot see whether a DHCP server answers on the bridge, which
// RootlessKit's child needs: lxc's lxc-net service runs one (dnsmasq).
func (d LXCUserNIC) Check(ctx context.Context, h *Host) error {
	if err := begin(ctx, h, NameLXCUserNIC); err != nil {
		return err
	}
	errs := []error{d.validate()}
	if p, err := d.find(h); err != nil {
		errs = append(errs, err)
	} else if fi, err := h.Stat(p); err == nil {
		fix := fmt.Sprintf("make it setuid root: sudo chown root:root %s && sudo chmod u+s %s (the distribution package installs it so)", p, p)
		if fi.Mode()&fs.ModeSetuid == 0 {
			errs = append(errs, Problem(IDNotSetuid, NameLXCUserNIC, fmt.Sprintf("%s is not setuid (mode %v)", p, fi.Mode()), fix))
		} else if uid, ok := fileOwner(fi); ok && uid != 0 {
			errs = append(errs, Problem(IDNotSetuid, NameLXCUserNIC, fmt.Sprintf("%s is setuid but owned by uid %d, not root", p, uid), fix))
		}
	}
	errs = append(errs, d.checkUserNet(h), d.checkBridge(h))
	errs = append(errs, checkNamespaceTools(h, NameLXCUserNIC, true)...)
	return join(errs)
}

// checkBridge needs Bridge to be a bridge: lxc-user-nic attaches the veth's host end to it.
func (d LXCUserNIC) checkBridge(h *Host) error {
	br := d.bridge()
	if _, err := h.Stat("/sys/class/net/" + br + "/bridge"); err == nil {
		return nil
	}
	what := "does not exist"
	if _, err := h.Stat("/sys/class/net/" + br); err == nil {
		what = "is a network interface but not a bridge"
	}
	return Problem(IDLXCBridge, NameLXCUserNIC,
		fmt.Sprintf("%s is not a bridge (/sys/class/net/%s/bridge: the interface %s), so lxc-user-nic has nothing to attach the namespace's veth to", br, br, what),
		fmt.Sprintf("start lxc's lxc-net service (it creates %s with DHCP and NAT), or as root: ip link add %s type bridge && ip addr add 10.0.3.1/24 dev %s && ip link set %s up, with a DHCP server on it (RootlessKit's child asks for an address, a router and a DNS server)",
			br, br, br, br))
}

func (d LXCUserNIC) checkUserNet(h *Host) error {
	const file = "/etc/lxc/lxc-usernet"
	who := h.User
	if who == "" {
		who = "USER"
	}
	fix := fmt.Sprintf("as root, add the line %q to %s (raise the count to run several daemons)", who+" veth "+d.bridge()+" 1", file)
	b, err := h.ReadFile(file)
	if err != nil {
		return withErr(Problem(IDLXCUserNet, NameLXCUserNIC, "cannot read "+file, fix), err, "")
	}
	if h.User == "" {
		return Warn(IDLXCUserNet, NameLXCUserNIC, "the host's user is unknown, so "+file+" cannot be checked", fix)
	}
	for _, e := range ParseLXCUserNet(bytes.NewReader(b)) {
		if e.Type != "veth" || e.Bridge != d.bridge() || e.Count < 1 {
			continue
		}
		if e.Who == h.User {
			return nil
		}
		for _, g := range h.Groups {
			if e.Who == "@"+g {
				return nil
			}
		}
	}
	return Problem(IDLXCUserNet, NameLXCUserNIC, fmt.Sprintf("%s has no veth entry on %s for %s or its groups", file, d.bridge(), h.User), fix)
}

func (d LXCUserNIC) describe(ctx context.Context, h *Host) string {
	if p, err := d.find(h); err == nil {
		return "lxc-user-nic found at " + p
	}
	return "lxc-user-nic"
}

// Properties reports fast networking, a setuid helper and MTU 1500.
func (d LXCUserNIC) Properties() Properties {
	return Properties{
		Namespace:         true,
		SUID:              true,
		Experimental:      true,
		NetThroughput:     Fast,
		DefaultMTU:        mtuEthernet,
		MTU:               mtuOr(d.MTU, mtuEthernet),
		DefaultPortDriver: portBuiltin,
		PortDrivers:       []string{portBuiltin, portNone},
		MinRootlessKit:    minSupported,
		Program:           orDefault(d.Binary, "lxc-user-nic"),
		Notes:             "experimental; needs setuid lxc-user-nic and /etc/lxc/lxc-usernet; no host loopback, no IPv6",
	}
}

// Flags returns --net=lxc-user-nic and its options. --disable-host-loopback
// is always given: RootlessKit implies it for this driver.
func (d LXCUserNIC) Flags(v Version, portDriver string) ([]string, error) {
	if err := CheckTarget(NameLXCUserNIC, v); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if _, err := portName(NameLXCUserNIC, d.Properties(), portDriver); err != nil {
		return nil, err
	}
	f := []string{"--net=lxc-user-nic", "--mtu=" + strconv.Itoa(mtuOr(d.MTU, mtuEthernet))}
	if d.IfName != "" {
		f = append(f, "--ifname="+d.IfName)
	}
	f = append(f, "--disable-host-loopback")
	if d.Binary != "" {
		f = append(f, "--lxc-user-nic-binary="+d.Binary)
	}
	if d.Bridge != "" {
		f = append(f, "--lxc-user-nic-bridge="+d.Bridge)
	}
	return f, nil
}
