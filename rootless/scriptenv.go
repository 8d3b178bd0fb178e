package rootless

import (
	"errors"
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
//	DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS                  extra RootlessKit flags      none; -p/--publish, --cidr, --ifname and --ipv6 are understood
//	DOCKERD                                             the dockerd binary           dockerd in $PATH
//
// Unlike the script, the MTU default also holds when NET is set (moby#47765), booleans accept
// true/false/1/0 alike, and an unknown value is an error rather than silently ignored.
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
				c.mtu = mtu
			}
		}
		for _, kv := range []struct {
			name string
			set  func(netdriver.Tristate)
		}{
			{EnvScriptSandbox, func(t netdriver.Tristate) { c.slirpSandbox = t }},
			{EnvScriptSeccomp, func(t netdriver.Tristate) { c.slirpSeccomp = t }},
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
			}
			c.prefs.HostLoopback = !b
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
func (c *config) applyScriptFlags(flags []string, net *netdriver.Driver) error {
	var errs []error
	for i := 0; i < len(flags); i++ {
		name, val, hasVal := strings.Cut(flags[i], "=")
		needVal := func() string {
			if hasVal {
				return val
			}
			if i+1 < len(flags) {
				i++
				return flags[i]
			}
			errs = append(errs, optionError("WithScriptEnv", "%s: %s needs a value", EnvScriptFlags, name))
			return ""
		}
		switch name {
		case "-p", "--publish":
			spec, err := portdriver.ParseSpec(needVal())
			if err != nil {
				errs = append(errs, optionError("WithScriptEnv", "%s: %v", EnvScriptFlags, err))
				continue
			}
			c.publish = append(c.publish, spec)
		case "--cidr":
			c.cidr = needVal()
		case "--ifname":
			c.ifname = needVal()
		case "--ipv6":
			c.prefs.IPv6 = true
		case "--detach-netns":
			t := true
			c.detach = &t
		case "--disable-host-loopback":
			c.prefs.HostLoopback = false
		default:
			errs = append(errs, optionError("WithScriptEnv", "%s: %s is not supported; supported: -p/--publish, --cidr, --ifname, --ipv6, --detach-netns, --disable-host-loopback", EnvScriptFlags, name))
		}
	}
	return errors.Join(errs...)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errors.New("\"" + s + "\" is not true or false")
}
