package rootless

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// Environment variables of dockerd-rootless.sh that WithScriptEnv reads.
const (
	EnvScriptStateDir     = "DOCKERD_ROOTLESS_ROOTLESSKIT_STATE_DIR"
	EnvScriptNet          = "DOCKERD_ROOTLESS_ROOTLESSKIT_NET"
	EnvScriptMTU          = "DOCKERD_ROOTLESS_ROOTLESSKIT_MTU"
	EnvScriptPortDriver   = "DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER"
	EnvScriptSandbox      = "DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX"
	EnvScriptSeccomp      = "DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SECCOMP"
	EnvScriptHostLoopback = "DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK"
	EnvScriptDetachNetNS  = "DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS"
	EnvScriptFlags        = "DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS"
	EnvScriptDockerd      = "DOCKERD"
)

// WithScriptEnv configures the daemon from dockerd-rootless.sh's environment variables, read
// from environ (os.Environ() form), so systemd overrides written for the script keep working.
// Each variable is validated; unset or empty ones keep the script's documented default:
//
//	DOCKERD_ROOTLESS_ROOTLESSKIT_STATE_DIR              RootlessKit's state dir      STATEDIR/dockerd-rootless
//	DOCKERD_ROOTLESS_ROOTLESSKIT_NET                    network driver               auto (slirp4netns, pasta, vpnkit, gvisor-tap-vsock)
//	DOCKERD_ROOTLESS_ROOTLESSKIT_MTU                    MTU                          65520 for slirp4netns, pasta, gvisor-tap-vsock; 1500 otherwise
//	DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER            port driver                  implicit for pasta, builtin otherwise
//	DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX    auto|true|false              auto
//	DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SECCOMP    auto|true|false              auto
//	DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK  true|false                   true
//	DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS           true|false                   true where supported (the script: true)
//	DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS                  extra RootlessKit flags      none; understood: -p/--publish, --cidr, --ifname, --ipv6, --detach-netns, --disable-host-loopback
//	DOCKERD                                             the dockerd binary (absolute) dockerd in $PATH
//
// The MTU default also holds when NET is set (20.10's script used 65520 only for an
// auto-selected slirp4netns). Unlike the script, booleans accept true/false/1/0 alike, and an
// unknown value is an error rather than silently ignored.
// Options after it override what it set.
func WithScriptEnv(environ []string) Option {
	return optionFunc(func(c *config) error {
		get := envLookup(environ)
		var errs []error
		bad := func(name, format string, args ...any) {
			errs = append(errs, optionError("WithScriptEnv", name+": "+format, args...))
		}
		if v := get(EnvScriptStateDir); v != "" {
			if !filepath.IsAbs(v) {
				bad(EnvScriptStateDir, "%q is not absolute", v)
			}
			c.rkDir = filepath.Clean(v)
		}
		var net netdriver.Driver
		if v := get(EnvScriptNet); v != "" {
			d, err := netdriver.Named(v)
			switch {
			case v == "host":
				bad(EnvScriptNet, "Unsupported RootlessKit network driver: host (dockerd needs a network namespace)")
			case err != nil:
				bad(EnvScriptNet, "%v", err)
			default:
				net = d
			}
		}
		if v := get(EnvScriptMTU); v != "" {
			mtu, err := strconv.Atoi(v)
			if err != nil || mtu < 68 || mtu > 65521 {
				bad(EnvScriptMTU, "%q is not an MTU between 68 and 65521", v)
			} else {
				c.tuning.MTU = mtu
			}
		}
		for _, kv := range []struct {
			name string
			set  func(netdriver.Tristate)
		}{
			{EnvScriptSandbox, func(t netdriver.Tristate) { c.tuning.Sandbox = t }},
			{EnvScriptSeccomp, func(t netdriver.Tristate) { c.tuning.Seccomp = t }},
		} {
			switch v := get(kv.name); v {
			case "", "auto":
			case "true", "1":
				kv.set(netdriver.True)
			case "false", "0":
				kv.set(netdriver.False)
			default:
				bad(kv.name, "%q is not auto, true or false", v)
			}
		}
		if v := get(EnvScriptPortDriver); v != "" {
			p, err := portdriver.Named(v)
			if err != nil {
				bad(EnvScriptPortDriver, "%v", err)
			} else {
				c.port = p
			}
		}
		if v := get(EnvScriptHostLoopback); v != "" {
			b, err := parseBool(v)
			if err != nil {
				bad(EnvScriptHostLoopback, "%v", err)
			} else {
				c.hostLoopback = !b
			}
		}
		if v := get(EnvScriptDetachNetNS); v != "" {
			b, err := parseBool(v)
			if err != nil {
				bad(EnvScriptDetachNetNS, "Unknown %s value: %s", EnvScriptDetachNetNS, v)
			} else {
				c.detach = &b
			}
		}
		if v := get(EnvScriptFlags); v != "" {
			errs = append(errs, c.applyScriptFlags(strings.Fields(v), &net))
		}
		if v := get(EnvScriptDockerd); v != "" {
			if !filepath.IsAbs(v) {
				bad(EnvScriptDockerd, "%q is not an absolute path", v)
			}
			c.bins.Dockerd = v
		}
		if net != nil {
			c.net = net
		}
		return errors.Join(errs...)
	})
}

// applyScriptFlags understands the RootlessKit flags people put in DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS.
// Values are validated here, so that every mistake is reported with the other option errors.
func (c *config) applyScriptFlags(flags []string, net *netdriver.Driver) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, optionError("WithScriptEnv", EnvScriptFlags+": "+format, args...))
	}
	for i := 0; i < len(flags); i++ {
		name, val, hasVal := strings.Cut(flags[i], "=")
		needVal := func() (string, bool) {
			if hasVal {
				return val, true
			}
			if i+1 < len(flags) {
				i++
				return flags[i], true
			}
			bad("%s needs a value", name)
			return "", false
		}
		// RootlessKit's boolean flags take an optional =true/=false (urfave/cli).
		boolVal := func() (bool, bool) {
			if !hasVal {
				return true, true
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				bad("%s=%s: %q is not true or false", name, val, val)
				return false, false
			}
			return b, true
		}
		switch name {
		case "-p", "--publish":
			v, ok := needVal()
			if !ok {
				continue
			}
			spec, err := portdriver.ParseSpec(v)
			if err != nil {
				bad("%v", err)
				continue
			}
			c.publish = append(c.publish, spec)
		case "--cidr":
			if v, ok := needVal(); ok {
				if p, err := netip.ParsePrefix(v); err != nil || !p.Addr().Is4() {
					bad("--cidr %q is not an IPv4 prefix like 10.0.2.0/24", v)
				} else if p.Masked() != p {
					bad("--cidr %q has host bits set: write it like %s (RootlessKit: \"cidr must be like 10.0.2.0/24, not like 10.0.2.100/24\")", v, p.Masked())
				} else {
					c.tuning.CIDR = p
				}
			}
		case "--ifname":
			if v, ok := needVal(); ok {
				if len(v) > 15 || strings.ContainsAny(v, "/:") {
					bad("--ifname %q is not an interface name (at most 15 characters, no '/' or ':')", v)
				} else {
					c.tuning.IfName = v
				}
			}
		case "--ipv6":
			if b, ok := boolVal(); ok {
				c.ipv6 = b
			}
		case "--detach-netns":
			if b, ok := boolVal(); ok {
				c.detach = &b
			}
		case "--disable-host-loopback":
			if b, ok := boolVal(); ok {
				c.hostLoopback = !b
			}
		default:
			bad("%s is not supported; supported: -p/--publish, --cidr, --ifname, --ipv6, --detach-netns, --disable-host-loopback", name)
			if !hasVal && i+1 < len(flags) && !strings.HasPrefix(flags[i+1], "-") {
				i++ // its value: the script puts no arguments of its own among the flags
			}
		}
	}
	return errors.Join(errs...)
}

// parseBool reads the script's booleans: true and 1, false and 0.
func parseBool(s string) (bool, error) {
	switch s {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errors.New("\"" + s + "\" is not true or false")
}
