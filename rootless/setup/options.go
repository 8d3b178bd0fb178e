package setup

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

// ErrInvalidOption wraps every error an Option reports; Install, Uninstall and Check report
// all of them at once.
var ErrInvalidOption = errors.New("setup: invalid option")

// An Option configures Install, Uninstall and Check. Each says which of them it applies to.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

func optionError(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}

// Settings are the daemon's settings. Install writes them to the unit's drop-in as the
// environment variables of dockerd-rootless.sh, which the launcher reads
// (rootless.WithScriptEnv), so that they can be changed without touching the unit itself.
type Settings struct {
	// Net is the network driver (DOCKERD_ROOTLESS_ROOTLESSKIT_NET): slirp4netns, pasta,
	// vpnkit, lxc-user-nic or gvisor-tap-vsock. "" chooses the best one on the host.
	Net string
	// MTU is DOCKERD_ROOTLESS_ROOTLESSKIT_MTU. 0 keeps the driver's default.
	MTU int
	// PortDriver is DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER: builtin, slirp4netns, implicit,
	// pesto or gvisor-tap-vsock. "" keeps the network driver's default.
	PortDriver string
	// RootlessKitFlags is DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS, e.g. "-p", "0.0.0.0:2376:2376/tcp".
	RootlessKitFlags []string
	// DockerdFlags are appended to dockerd's command line, e.g. "--iptables=false".
	DockerdFlags []string
	// Env holds other variables for the daemon, KEY=VALUE: the remaining
	// DOCKERD_ROOTLESS_ROOTLESSKIT_* variables, DOCKERD, HTTP_PROXY, NO_PROXY, TZ, ...
	Env []string
}

// env is the drop-in's environment for s, in a fixed order.
func (s Settings) env() []string {
	var env []string
	if s.Net != "" {
		env = append(env, rootless.EnvScriptNet+"="+s.Net)
	}
	if s.MTU != 0 {
		env = append(env, fmt.Sprintf("%s=%d", rootless.EnvScriptMTU, s.MTU))
	}
	if s.PortDriver != "" {
		env = append(env, rootless.EnvScriptPortDriver+"="+s.PortDriver)
	}
	if len(s.RootlessKitFlags) > 0 {
		env = append(env, rootless.EnvScriptFlags+"="+strings.Join(s.RootlessKitFlags, " "))
	}
	env = append(env, s.Env...)
	if len(s.DockerdFlags) > 0 {
		env = append(env, EnvDockerdFlags+"="+strings.Join(s.DockerdFlags, " "))
	}
	return env
}

// EnvDockerdFlags is the variable of the drop-in that carries Settings.DockerdFlags. The unit's
// ExecStart expands it as separate words: ExecStart=LAUNCHER $ROOTLESSD_DOCKERD_FLAGS.
const EnvDockerdFlags = "ROOTLESSD_DOCKERD_FLAGS"

func (s Settings) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, optionError("WithSettings", format, args...)) }
	if s.Net != "" {
		if s.Net == "host" {
			bad("Net: host is not supported: dockerd needs a network namespace of its own")
		} else if _, err := netdriver.Named(s.Net); err != nil {
			bad("Net: %v", err)
		}
	}
	if s.MTU != 0 && (s.MTU < 68 || s.MTU > 65521) {
		bad("MTU %d is not between 68 and 65521", s.MTU)
	}
	if s.PortDriver != "" {
		if _, err := portdriver.Named(s.PortDriver); err != nil {
			bad("PortDriver: %v", err)
		}
	}
	for _, list := range []struct {
		name  string
		words []string
	}{{"RootlessKitFlags", s.RootlessKitFlags}, {"DockerdFlags", s.DockerdFlags}} {
		for _, w := range list.words {
			// The values are split at white space, by the launcher or by systemd's $VAR expansion.
			if w == "" || strings.ContainsAny(w, " \t\n\"'\\") {
				bad("%s: %q: each flag must be one word without spaces, quotes or backslashes", list.name, w)
			}
		}
	}
	for _, kv := range s.Env {
		k, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok || !validEnvName(k):
			bad("Env: %q is not KEY=VALUE", kv)
		case k == "PATH" || k == EnvDockerdFlags || k == rootless.EnvScriptNet || k == rootless.EnvScriptMTU ||
			k == rootless.EnvScriptPortDriver || k == rootless.EnvScriptFlags:
			bad("Env: %s has a field of its own in Settings (or, for PATH, is chosen by Install)", k)
		case strings.ContainsAny(kv, "\n\"\\"):
			bad("Env: %q: newlines, quotes and backslashes are not supported", kv)
		}
	}
	return errors.Join(errs...)
}

func validEnvName(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

type config struct {
	user         *User
	launcher     string
	searchPath   []string
	settings     Settings
	systemd      *bool
	runner       Runner
	root         string
	update       bool
	force        bool
	skipIptables bool
	removeData   bool
	unit         string
	context      string
}

func newConfig(opts []Option) (*config, error) {
	c := &config{root: "/", unit: DefaultUnit, context: DefaultContext}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("%w: nil Option", ErrInvalidOption))
			continue
		}
		if err := o.apply(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.user == nil {
		u, err := CurrentUser()
		if err != nil {
			return nil, err
		}
		c.user = &u
	}
	if err := c.user.validate(); err != nil {
		return nil, err
	}
	if c.runner == nil {
		c.runner = ExecRunner{}
	}
	return c, nil
}

// The defaults of Docker's dockerd-rootless-setuptool.sh.
const (
	DefaultUnit    = "docker.service"
	DefaultContext = "rootless"
)

// WithUser sets the user to set up. Default: CurrentUser(). Applies to all.
func WithUser(u User) Option {
	return optionFunc(func(c *config) error {
		if err := u.validate(); err != nil {
			return optionError("WithUser", "%v", err)
		}
		u.Env = slices.Clone(u.Env)
		c.user = &u
		return nil
	})
}

// WithLauncher sets the program the unit runs: the absolute path of a program built on this
// SDK that behaves like dockerd-rootless.sh, such as examples/launcher. It must read the
// DOCKERD_ROOTLESS_ROOTLESSKIT_* variables (rootless.WithScriptEnv), put the socket at
// $XDG_RUNTIME_DIR/docker.sock, take dockerd's flags as arguments, and tell systemd READY=1
// once the API answers. Install requires it.
func WithLauncher(path string) Option {
	return optionFunc(func(c *config) error {
		if !filepath.IsAbs(path) {
			return optionError("WithLauncher", "%q is not absolute", path)
		}
		c.launcher = filepath.Clean(path)
		return nil
	})
}

// WithSearchPath lists directories searched, before the user's PATH and the system
// directories, for dockerd and the programs it and RootlessKit start (containerd, runc,
// docker-proxy, slirp4netns, ...). Their directories become the unit's PATH. Repeated calls
// append. Default: none. Applies to Install and Check.
func WithSearchPath(dirs ...string) Option {
	return optionFunc(func(c *config) error {
		for _, d := range dirs {
			if !filepath.IsAbs(d) {
				return optionError("WithSearchPath", "%q is not absolute", d)
			}
			c.searchPath = append(c.searchPath, filepath.Clean(d))
		}
		return nil
	})
}

// WithSettings sets the daemon's settings. Default: none (Docker's defaults). Applies to
// Install and Check; Uninstall and RemoveDataRoot read the socket and data root from its
// dockerd flags when no drop-in is installed (as without systemd).
func WithSettings(s Settings) Option {
	return optionFunc(func(c *config) error {
		if err := s.validate(); err != nil {
			return err
		}
		s.RootlessKitFlags, s.DockerdFlags, s.Env = slices.Clone(s.RootlessKitFlags), slices.Clone(s.DockerdFlags), slices.Clone(s.Env)
		c.settings = s
		return nil
	})
}

// WithSystemd says whether the user's systemd manager is there. Default: detected, as Docker's
// tool does, by `systemctl --user show-environment` succeeding. Applies to all.
func WithSystemd(on bool) Option {
	return optionFunc(func(c *config) error { c.systemd = &on; return nil })
}

// WithRunner sets what runs the plan's commands (systemctl, sysctl, setcap). Default:
// ExecRunner{}. Applies to all.
func WithRunner(r Runner) Option {
	return optionFunc(func(c *config) error {
		if r == nil {
			return optionError("WithRunner", "nil Runner")
		}
		c.runner = r
		return nil
	})
}

// WithRoot makes every path the plan reads or writes relative to dir, as systemd's --root
// does: for tests on a real file tree, and for preparing an image. The plan still shows the
// paths as they are seen from inside dir. Default: "/". Applies to all.
func WithRoot(dir string) Option {
	return optionFunc(func(c *config) error {
		if !filepath.IsAbs(dir) {
			return optionError("WithRoot", "%q is not absolute", dir)
		}
		c.root = filepath.Clean(dir)
		return nil
	})
}

// WithUpdate replaces installed files and the CLI context where they differ from what Install
// would write. Without it, a plan with such differences (Plan.Drift) changes nothing when
// applied. Default: false. Applies to Install.
func WithUpdate(on bool) Option {
	return optionFunc(func(c *config) error { c.update = on; return nil })
}

// WithForce ignores a rootful Docker whose socket (/var/run/docker.sock) this user can write
// to, like Docker's --force. Default: false. Applies to Check.
func WithForce(on bool) Option {
	return optionFunc(func(c *config) error { c.force = on; return nil })
}

// WithSkipIptables ignores a missing iptables, like Docker's --skip-iptables: Check does not
// report it, and Install adds --iptables=false to dockerd's flags when iptables is missing.
// Default: false. Applies to Install and Check.
func WithSkipIptables(on bool) Option {
	return optionFunc(func(c *config) error { c.skipIptables = on; return nil })
}

// WithRemoveData makes Uninstall also remove the daemon's data root (images, containers,
// volumes), with rootless.RemoveAll. Default: false: the data stays. Applies to Uninstall.
func WithRemoveData(on bool) Option {
	return optionFunc(func(c *config) error { c.removeData = on; return nil })
}

// WithUnit sets the name of the systemd user unit. Default: docker.service. Applies to all.
func WithUnit(name string) Option {
	return optionFunc(func(c *config) error {
		if !strings.HasSuffix(name, ".service") || len(name) == len(".service") || strings.ContainsAny(name, "/ \t\n") {
			return optionError("WithUnit", "%q is not a service unit name like docker.service", name)
		}
		c.unit = name
		return nil
	})
}

// WithContext sets the name of the docker CLI context. Default: rootless. Applies to Install
// and Uninstall.
func WithContext(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "default" || !validContextName(name) {
			return optionError("WithContext", "%q is not a context name of our own (letters, digits, '.', '_', '-'; not \"default\")", name)
		}
		c.context = name
		return nil
	})
}

// validContextName is the docker CLI's rule: ^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$.
func validContextName(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("_.+-", c)) {
			return false
		}
	}
	return true
}
