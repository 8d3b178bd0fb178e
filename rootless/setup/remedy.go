package setup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// The files the sysctl remedies write, next to Docker's 50-rootless.conf and 51-rootless.conf.
const (
	PingSysctlFile  = "/etc/sysctl.d/52-rootless-ping.conf"
	PortsSysctlFile = "/etc/sysctl.d/53-rootless-ports.conf"
)

// AllowPing returns the plan, for root, that lets containers ping (the seed's "routing ping
// packets"): net.ipv4.ping_group_range = 0 2147483647 in /etc/sysctl.d, loaded at once with
// sysctl -p. The network driver (slirp4netns) sends the echo requests from the host with an
// unprivileged ICMP socket, which the host allows only to the groups in that range. The plan
// is empty when the range already covers every group. As root, Apply does it; for other
// users, Plan.Script is the exact sudo script. Options: WithRoot, WithRunner.
func AllowPing(opts ...Option) (*Plan, error) {
	h, err := remedyHost(opts)
	if err != nil {
		return nil, err
	}
	p := &Plan{Root: true, env: h.applyEnv()}
	if v, err := os.ReadFile(h.hostPath("/proc/sys/net/ipv4/ping_group_range")); err == nil {
		if f := strings.Fields(string(v)); len(f) == 2 && f[0] == "0" && f[1] == "2147483647" {
			p.Notes = append(p.Notes, Note{diag.Info, "net.ipv4.ping_group_range is already 0 2147483647"})
			return p, nil
		}
	}
	p.Actions = sysctlActions(PingSysctlFile, "net.ipv4.ping_group_range = 0 2147483647")
	return p, nil
}

// AllowPrivilegedPortsBySysctl returns the plan, for root, that lets every program bind ports
// from start up (0: all of them), so that `docker run -p 80:80` works:
// net.ipv4.ip_unprivileged_port_start in /etc/sysctl.d, loaded at once with sysctl -p. It is
// host-wide; AllowPrivilegedPortsByCapability limits the right to one program. The plan is empty
// when the sysctl is already at most start. Options: WithRoot, WithRunner.
func AllowPrivilegedPortsBySysctl(start uint16, opts ...Option) (*Plan, error) {
	h, err := remedyHost(opts)
	if err != nil {
		return nil, err
	}
	if start > 1024 {
		return nil, fmt.Errorf("%w: AllowPrivilegedPortsBySysctl(%d): ports from 1024 up are unprivileged already", ErrInvalidOption, start)
	}
	p := &Plan{Root: true, env: h.applyEnv()}
	if v, err := os.ReadFile(h.hostPath("/proc/sys/net/ipv4/ip_unprivileged_port_start")); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(v))); err == nil && n <= int(start) {
			p.Notes = append(p.Notes, Note{diag.Info, fmt.Sprintf("net.ipv4.ip_unprivileged_port_start is already %d", n)})
			return p, nil
		}
	}
	p.Actions = sysctlActions(PortsSysctlFile, fmt.Sprintf("net.ipv4.ip_unprivileged_port_start = %d", start))
	p.Notes = append(p.Notes, Note{diag.Info, "every user can now bind those ports, on this host and in every network namespace created after this"})
	return p, nil
}

// AllowPrivilegedPortsByCapability returns the plan, for root, that gives binary
// CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=ep), so that it can publish ports below
// 1024 and nothing else gets that right. binary must be the program that binds published ports
// on the host, which depends on the port driver: RootlessKit's parent for builtin and
// gvisor-tap-vsock, that is the rootlesskit binary, or, with the embedded engine, the program
// that calls rootless.Launch (for a unit that Install wrote: its launcher); slirp4netns for the
// slirp4netns port driver; pasta for implicit and pesto. The capability applies from the next
// start: restart the daemon afterwards. The plan is empty when binary has it already. Options:
// WithRoot, WithRunner.
func AllowPrivilegedPortsByCapability(binary string, opts ...Option) (*Plan, error) {
	h, err := remedyHost(opts)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(binary) {
		return nil, fmt.Errorf("%w: AllowPrivilegedPortsByCapability(%q): not an absolute path", ErrInvalidOption, binary)
	}
	target, err := h.resolveLinks(binary)
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", binary, err)
	}
	real := h.hostPath(target)
	if st, err := os.Stat(real); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("setup: %s is not a regular file", target)
	}
	p := &Plan{Root: true, env: h.applyEnv()}
	if caps, err := fileCaps(real); err == nil && caps.Has(portdriver.CapNetBindService) {
		p.Notes = append(p.Notes, Note{diag.Info, target + " already has cap_net_bind_service=ep"})
		return p, nil
	}
	p.Actions = []Action{&Command{Argv: []string{"setcap", "cap_net_bind_service=ep", target}}}
	p.Notes = append(p.Notes, Note{diag.Info, "restart the daemon for it to take effect, e.g. systemctl --user restart " + h.c.unit})
	if target != binary {
		p.Notes = append(p.Notes, Note{diag.Info, binary + " is a symbolic link to " + target + ", which gets the capability"})
	}
	return p, nil
}

// resolveLinks follows symbolic links at the end of p, inside the root: setcap acts on the file
// itself.
func (h *host) resolveLinks(p string) (string, error) {
	for range 40 {
		dest, err := os.Readlink(h.hostPath(p))
		if err != nil {
			if _, serr := os.Lstat(h.hostPath(p)); serr != nil {
				return "", serr
			}
			return p, nil // not a link
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(p), dest)
		}
		p = filepath.Clean(dest)
	}
	return "", fmt.Errorf("too many levels of symbolic links")
}

func sysctlActions(file, line string) []Action {
	return []Action{
		&WriteFile{Path: file, Mode: 0o644, Data: []byte(line + "\n")},
		&Command{Argv: []string{"sysctl", "-p", file}},
	}
}

func fileCaps(path string) (portdriver.FileCaps, error) {
	b, err := netdriver.LocalHost().FileCapsRaw(path)
	if err != nil {
		return portdriver.FileCaps{}, err
	}
	return portdriver.ParseFileCaps(b)
}

// remedyHost is the host of a remedy: the options without a user of their own.
func remedyHost(opts []Option) (*host, error) {
	c, err := newConfig(append([]Option{WithUser(User{Name: "root", UID: 0, Home: "/root"})}, opts...))
	if err != nil {
		return nil, err
	}
	return &host{c: c}, nil
}
