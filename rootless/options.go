package rootless

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// An Option configures Launch. Options that also apply to Check say so; Check accepts all of them.
// Each option validates its own value; Launch reports every invalid option at once, each error
// wrapping ErrInvalidOption.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// Engine selects how RootlessKit runs.
type Engine int

const (
	// EngineAuto uses the embedded engine, and falls back to an installed rootlesskit binary
	// when the embedded one is denied a user namespace (Ubuntu >= 24.04 AppArmor lets only
	// profiled binaries such as /usr/bin/rootlesskit create one). Launch logs the fallback and
	// Info reports it.
	EngineAuto Engine = iota
	// EngineEmbedded runs RootlessKit v3 from this module in a helper process: no rootlesskit
	// binary is needed. The program must call Init at the top of main.
	EngineEmbedded
	// EngineExternal runs an installed rootlesskit binary (1.1, 2.x or 3.x) with the flags its
	// version knows.
	EngineExternal
)

// MarshalText writes the engine as its String form.
func (e Engine) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

func (e Engine) String() string {
	switch e {
	case EngineAuto:
		return "auto"
	case EngineEmbedded:
		return "embedded"
	case EngineExternal:
		return "external"
	}
	return "unknown"
}

// Binaries locates the programs a daemon needs. Zero fields are looked up.
type Binaries struct {
	// Dockerd is the daemon. Default: "dockerd" in Path, then in $PATH.
	Dockerd string
	// RootlessKit is the rootlesskit binary of the external engine. Default: "rootlesskit" in
	// Path, then in $PATH.
	RootlessKit string
	// Path lists directories searched before $PATH, for these and for everything dockerd and
	// RootlessKit start by name: containerd, containerd-shim-runc-v2, runc, docker-proxy,
	// rootlesskit-docker-proxy, slirp4netns, pasta. Use it to pick one engine stack of several.
	Path []string
}

// Progress is a Launch milestone.
type Progress struct {
	Stage   Stage
	Elapsed time.Duration // since Launch was called
}

type config struct {
	stateDir, rkDir, socket, execRoot, pidFile, dataRoot, daemonConfig string

	dockerdArgs []string
	bins        Binaries
	engine      Engine
	net         netdriver.Driver
	port        portdriver.Driver
	detach      *bool
	publish     []portdriver.Spec
	subidSource idmap.Source
	tcp         *tcpAPI // WithTCPAPI, WithInsecureTCPAPI (tcp.go)

	// tuning holds WithScriptEnv's driver settings (MTU, CIDR, interface name, slirp4netns
	// sandbox and seccomp), applied to whichever network driver is chosen. A later WithNetwork
	// replaces them: its value carries its own settings.
	tuning                                 netdriver.Settings
	sourceIP, hostLoopback, ipv6, clampMTU bool
	// fallback marks the Resolve of EngineAuto's fallback to the external engine.
	fallback bool

	logger      *slog.Logger
	output      io.Writer
	progress    func(Progress)
	stopTimeout time.Duration
	environ     []string // the environment dockerd inherits (proxies, TZ, ...)
}

// WithStateDir sets the directory for the daemon's sockets, pid file, exec root, RootlessKit's
// state and the lock that keeps one daemon per directory. It must be absolute, private to the
// user (mode 0700, not under /tmp) and short enough for unix socket paths (108 bytes).
// Default: $XDG_RUNTIME_DIR/rootlessd, else /run/user/UID/rootlessd. Launch never requires
// XDG_RUNTIME_DIR to be set. Also applies to Check.
func WithStateDir(dir string) Option {
	return optionFunc(func(c *config) error {
		if !filepath.IsAbs(dir) {
			return optionError("WithStateDir", "%q is not absolute", dir)
		}
		c.stateDir = filepath.Clean(dir)
		return nil
	})
}

// WithDataRoot sets dockerd's data root: images, containers, volumes. It must not be on NFS.
// Default: $XDG_DATA_HOME/docker, else ~/.local/share/docker (Docker's own default, so images
// persist across launches). Give each concurrent daemon its own. Also applies to Check.
func WithDataRoot(dir string) Option {
	return optionFunc(func(c *config) error {
		if !filepath.IsAbs(dir) {
			return optionError("WithDataRoot", "%q is not absolute", dir)
		}
		c.dataRoot = filepath.Clean(dir)
		return nil
	})
}

// WithSocket sets the path of the Docker API socket. Default: STATEDIR/docker.sock.
func WithSocket(path string) Option {
	return absPath("WithSocket", path, func(c *config) *string { return &c.socket })
}

// WithExecRoot sets dockerd's exec root, where its containerd keeps its sockets.
// Default: STATEDIR/docker.
func WithExecRoot(dir string) Option {
	return absPath("WithExecRoot", dir, func(c *config) *string { return &c.execRoot })
}

// WithPIDFile sets dockerd's pid file. Default: STATEDIR/docker.pid. The pid in it is dockerd's
// pid inside its PID namespace; use Daemon.PID for the host's view.
func WithPIDFile(path string) Option {
	return absPath("WithPIDFile", path, func(c *config) *string { return &c.pidFile })
}

// WithRootlessKitStateDir sets RootlessKit's state directory (child_pid, api.sock, netns).
// RootlessKit empties it at start and deletes it at exit. Default: STATEDIR/dockerd-rootless,
// the layout of dockerd-rootless.sh when STATEDIR is $XDG_RUNTIME_DIR.
func WithRootlessKitStateDir(dir string) Option {
	return absPath("WithRootlessKitStateDir", dir, func(c *config) *string { return &c.rkDir })
}

// WithDaemonConfig sets the daemon.json dockerd reads. Default: dockerd's own default,
// $XDG_CONFIG_HOME/docker/daemon.json (~/.config/docker/daemon.json) if it exists.
func WithDaemonConfig(path string) Option {
	return absPath("WithDaemonConfig", path, func(c *config) *string { return &c.daemonConfig })
}

func absPath(name, p string, field func(*config) *string) Option {
	return optionFunc(func(c *config) error {
		if !filepath.IsAbs(p) {
			return optionError(name, "%q is not absolute", p)
		}
		*field(c) = filepath.Clean(p)
		return nil
	})
}

// WithDockerdArgs appends arguments to dockerd's command line. Repeated calls append. Arguments
// that set what other options own (--data-root, --exec-root, --pidfile or -p, --config-file)
// are rejected: use those options. A --host (-H) adds an API endpoint next to the socket of
// WithSocket; a TCP one ("tcp://..." or a bare "HOST:PORT") needs --tlsverify, in the same call
// or an earlier one: an unauthenticated TCP API gives root-equivalent access to anyone who can
// reach the port. Default: none.
func WithDockerdArgs(args ...string) Option {
	return optionFunc(func(c *config) error {
		var errs []error
		for _, a := range args {
			name, _, _ := strings.Cut(a, "=")
			if strings.HasPrefix(name, "-p") && !strings.HasPrefix(name, "--") {
				name = "-p" // pflag shorthand with its value attached: -p/run/x.pid
			}
			switch name {
			case "--data-root", "--exec-root", "--pidfile", "-p", "--config-file":
				errs = append(errs, optionError("WithDockerdArgs", "%s is set by an option of its own (WithDataRoot, WithExecRoot, WithPIDFile, WithDaemonConfig)", name))
			}
		}
		c.dockerdArgs = append(c.dockerdArgs, args...) // the TCP/TLS rule is judged on the whole line, in newConfig
		return errors.Join(errs...)
	})
}

// checkTCPHosts refuses a TCP API without TLS verification. dockerd takes a host without a
// scheme ("0.0.0.0:2375", ":2375") as TCP, trims spaces, and lets the last --tlsverify win.
func checkTCPHosts(args []string) error {
	tcp, tls := "", false
	for i, a := range args {
		v, isHost := "", false
		switch {
		case a == "-H" || a == "--host":
			isHost = true
			if i+1 < len(args) {
				v = args[i+1]
			}
		case strings.HasPrefix(a, "-H="), strings.HasPrefix(a, "--host="):
			isHost = true
			_, v, _ = strings.Cut(a, "=")
		case strings.HasPrefix(a, "-H") && len(a) > 2:
			isHost, v = true, a[2:]
		case a == "--tlsverify":
			tls = true
		case strings.HasPrefix(a, "--tlsverify="):
			// pflag's bool syntax; an unparsable value makes dockerd fail, so either answer is safe.
			tls, _ = strconv.ParseBool(strings.TrimPrefix(a, "--tlsverify="))
		}
		if isHost && isTCPHost(v) {
			tcp = strings.TrimSpace(v)
		}
	}
	if tcp != "" && !tls {
		return optionError("WithDockerdArgs", "API on %s without --tlsverify: anyone who reaches it is root-equivalent for this user; add --tlsverify --tlscacert=ca.pem --tlscert=cert.pem --tlskey=key.pem", tcp)
	}
	return nil
}

// isTCPHost reports whether dockerd listens on TCP for the --host value v (moby opts.ParseHost).
func isTCPHost(v string) bool {
	v = strings.TrimSpace(v)
	proto, _, hasScheme := strings.Cut(v, "://")
	if !hasScheme {
		return v != "" // "HOST:PORT" and ":PORT" are TCP; "" is the default unix socket
	}
	return proto == "tcp"
}

// WithBinaries locates dockerd, rootlesskit and the programs they start. Default: $PATH.
// Also applies to Check.
func WithBinaries(b Binaries) Option {
	return optionFunc(func(c *config) error {
		var errs []error
		for _, p := range []string{b.Dockerd, b.RootlessKit} {
			if p != "" && !filepath.IsAbs(p) {
				errs = append(errs, optionError("WithBinaries", "%q is not absolute", p))
			}
		}
		for _, d := range b.Path {
			if !filepath.IsAbs(d) {
				errs = append(errs, optionError("WithBinaries", "Path entry %q is not absolute", d))
			}
		}
		b.Path = slices.Clone(b.Path) // the caller may reuse its slice
		c.bins = b
		return errors.Join(errs...)
	})
}

// WithEngine selects how RootlessKit runs. Default: EngineAuto. Also applies to Check.
func WithEngine(e Engine) Option {
	return optionFunc(func(c *config) error {
		if e < EngineAuto || e > EngineExternal {
			return optionError("WithEngine", "unknown engine %d", int(e))
		}
		c.engine = e
		return nil
	})
}

// WithNetwork sets the network driver, e.g. netdriver.Slirp4netns{MTU: 65520}. It replaces the
// driver settings (MTU, CIDR, interface name, sandbox) of an earlier WithScriptEnv: the value
// carries its own. Default: the first that works on the host in Docker's order (slirp4netns,
// then pasta, vpnkit, then the in-process gvisor-tap-vsock), honouring WithSourceIP,
// WithHostLoopback, WithIPv6 and WithMTUClamp; Plan.Reasons says why. Also applies to Check.
func WithNetwork(d netdriver.Driver) Option {
	return optionFunc(func(c *config) error {
		if d == nil || reflect.ValueOf(d).Kind() == reflect.Pointer && reflect.ValueOf(d).IsNil() {
			return optionError("WithNetwork", "nil driver")
		}
		c.net = d
		c.tuning = netdriver.Settings{}
		return nil
	})
}

// WithPortDriver sets the port driver, e.g. portdriver.Builtin{}. It must suit the network
// driver; Launch names the valid choices otherwise. Default: the network driver's default
// (implicit for pasta, builtin otherwise). Also applies to Check.
func WithPortDriver(d portdriver.Driver) Option {
	return optionFunc(func(c *config) error {
		if d == nil || reflect.ValueOf(d).Kind() == reflect.Pointer && reflect.ValueOf(d).IsNil() {
			return optionError("WithPortDriver", "nil driver")
		}
		c.port = d
		return nil
	})
}

// WithSourceIP(true) makes published ports show containers the client's real address.
// Trade-off: unless the drivers were chosen explicitly, it picks a port driver that keeps the
// address: the builtin one with RootlessKit 3 (TCP only; dockerd then runs without its userland
// proxy), slirp4netns's own (slower, no IPv6 ports) on older RootlessKit, or pasta's. Default:
// false. Later calls replace earlier ones.
func WithSourceIP(on bool) Option {
	return optionFunc(func(c *config) error { c.sourceIP = on; return nil })
}

// WithHostLoopback(true) lets containers reach the host's 127.0.0.1 through the network
// driver's gateway, and passes that address to dockerd as --host-gateway-ip so that
// host.docker.internal (add-host host-gateway) points at it. Trade-off: every service listening
// on the host's loopback becomes reachable from every container. Default: false (RootlessKit's
// --disable-host-loopback, as in dockerd-rootless.sh); false does not turn off a HostLoopback
// set in an explicit driver value. Later calls replace earlier ones, including the setting of
// an earlier WithScriptEnv.
func WithHostLoopback(on bool) Option {
	return optionFunc(func(c *config) error { c.hostLoopback = on; return nil })
}

// WithIPv6(true) gives the daemon's namespace IPv6 connectivity (slirp4netns or pasta).
// Trade-off: gvisor-tap-vsock has none, so it is never chosen. Default: false. Later calls
// replace earlier ones.
func WithIPv6(on bool) Option {
	return optionFunc(func(c *config) error { c.ipv6 = on; return nil })
}

// WithMTUClamp(true) lowers the MTU to that of the host's default route when it is lower than
// the driver's (VPNs, PPPoE, Kubernetes overlays), where a 65520 MTU makes pulls and TLS
// handshakes hang. Trade-off: less throughput than 65520 on hosts where the large MTU works.
// Default: false. Later calls replace earlier ones.
func WithMTUClamp(on bool) Option {
	return optionFunc(func(c *config) error { c.clampMTU = on; return nil })
}

// WithDetachNetNS sets whether dockerd runs in the host's network namespace while its
// containers use RootlessKit's (RootlessKit --detach-netns): faster pulls and pushes, and
// `docker run --net=host` works. Default: on when RootlessKit (>= 2.0), dockerd (>= 29.5) and
// the network driver (not slirp4netns with Sandbox true) support it, as dockerd-rootless.sh
// does. Later calls replace earlier ones.
func WithDetachNetNS(on bool) Option {
	return optionFunc(func(c *config) error { c.detach = &on; return nil })
}

// WithPublish publishes ports through RootlessKit from the start, independently of containers:
// for example dockerd's own TCP API (with WithDockerdArgs("-H", "tcp://0.0.0.0:2376",
// "--tlsverify", ...)). Repeated calls append. Default: none.
func WithPublish(specs ...portdriver.Spec) Option {
	return optionFunc(func(c *config) error {
		var errs []error
		for _, sp := range specs {
			if err := sp.Validate(); err != nil {
				errs = append(errs, optionError("WithPublish", "%v", err))
			}
		}
		c.publish = append(c.publish, specs...)
		return errors.Join(errs...)
	})
}

// WithSubidSource sets where RootlessKit reads subordinate ids, and Check with it:
// idmap.Auto{} (getsubids, then /etc/subuid and /etc/subgid), idmap.Getsubids{} or
// idmap.Files{}. Default: idmap.Auto{}, RootlessKit's own default. Also applies to Check.
func WithSubidSource(src idmap.Source) Option {
	return optionFunc(func(c *config) error {
		if src == nil {
			return optionError("WithSubidSource", "nil source (use idmap.Auto{}, idmap.Getsubids{} or idmap.Files{})")
		}
		c.subidSource = src
		return nil
	})
}

// WithLogger sets the logger for lifecycle events and for the daemon's own output, which is
// parsed and re-emitted at its level with the attribute component=dockerd|rootlesskit.
// Default: discard (a library prints nothing unless asked).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return optionError("WithLogger", "nil logger")
		}
		c.logger = l
		return nil
	})
}

// WithDaemonOutput copies everything the daemon's process tree prints (dockerd, containerd,
// RootlessKit) to w, unparsed. Writes come from one goroutine. Default: discard.
func WithDaemonOutput(w io.Writer) Option {
	return optionFunc(func(c *config) error {
		if w == nil {
			return optionError("WithDaemonOutput", "nil writer")
		}
		c.output = w
		return nil
	})
}

// WithProgress calls f at each Launch stage, in order, from the goroutine that called Launch.
// IDEs use it to show what a slow start is doing. Default: none.
func WithProgress(f func(Progress)) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return optionError("WithProgress", "nil func")
		}
		c.progress = f
		return nil
	})
}

// WithStopTimeout sets how long Close waits after SIGTERM before it kills the daemon's whole
// process tree. Default: 15s (dockerd stops running containers first).
func WithStopTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return optionError("WithStopTimeout", "%v is not positive", d)
		}
		c.stopTimeout = d
		return nil
	})
}

// WithEnviron sets the environment dockerd inherits (HTTP_PROXY, NO_PROXY, TZ, ...), in the
// form of os.Environ. HOME, PATH and XDG_RUNTIME_DIR are set by Launch. Default: os.Environ().
func WithEnviron(env []string) Option {
	return optionFunc(func(c *config) error {
		c.environ = slices.Clone(env)
		return nil
	})
}

// wants is what the options ask of the drivers.
func (c *config) wants() wants {
	st := c.tuning
	st.HostLoopback, st.IPv6 = c.hostLoopback, c.ipv6
	return wants{net: c.net, port: c.port, settings: st, sourceIP: c.sourceIP, clampMTU: c.clampMTU}
}

// debug reports whether RootlessKit should log at debug level.
func (c *config) debug() bool { return c.logger.Enabled(context.Background(), slog.LevelDebug) }

// newConfig applies every option and reports all invalid ones together.
func newConfig(opts []Option) (*config, error) {
	c := &config{stopTimeout: defaultStopTimeout, subidSource: idmap.Auto{}}
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
	// Over every WithDockerdArgs call at once: a later call may add the --tlsverify an
	// earlier TCP host needs, or switch it off again.
	if err := checkTCPHosts(c.dockerdArgs); err != nil {
		errs = append(errs, err)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.environ == nil {
		c.environ = os.Environ()
	}
	return c, errors.Join(errs...)
}

// defaultStopTimeout bounds Close: dockerd first stops the running containers.
const defaultStopTimeout = 15 * time.Second
