package rootless

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// applyOne applies a single option to a fresh config, as Launch does.
func applyOne(t *testing.T, o Option) (*config, error) {
	t.Helper()
	c := &config{}
	return c, o.apply(c)
}

func TestOptionValidation(t *testing.T) {
	spec := portdriver.Spec{Parent: netip.MustParseAddrPort("127.0.0.1:8080"), ChildPort: 80}
	tests := []struct {
		name    string
		opt     Option
		wantErr string // a part of the message; "" means valid
		check   func(t *testing.T, c *config)
	}{
		{name: "state dir", opt: WithStateDir("/run/user/1000/x/../rl/"),
			check: func(t *testing.T, c *config) { wantEq(t, c.stateDir, "/run/user/1000/rl") }},
		{name: "state dir relative", opt: WithStateDir("run/rl"), wantErr: `WithStateDir: "run/rl" is not absolute`},
		{name: "state dir empty", opt: WithStateDir(""), wantErr: `WithStateDir: "" is not absolute`},
		{name: "data root", opt: WithDataRoot("/srv/docker"),
			check: func(t *testing.T, c *config) { wantEq(t, c.dataRoot, "/srv/docker") }},
		{name: "data root relative", opt: WithDataRoot("./docker"), wantErr: `WithDataRoot: "./docker" is not absolute`},
		{name: "socket", opt: WithSocket("/run/d.sock"), check: func(t *testing.T, c *config) { wantEq(t, c.socket, "/run/d.sock") }},
		{name: "socket relative", opt: WithSocket("d.sock"), wantErr: `WithSocket: "d.sock" is not absolute`},
		{name: "exec root", opt: WithExecRoot("/run/x/"), check: func(t *testing.T, c *config) { wantEq(t, c.execRoot, "/run/x") }},
		{name: "exec root relative", opt: WithExecRoot("x"), wantErr: "WithExecRoot"},
		{name: "pid file", opt: WithPIDFile("/run/d.pid"), check: func(t *testing.T, c *config) { wantEq(t, c.pidFile, "/run/d.pid") }},
		{name: "pid file relative", opt: WithPIDFile("d.pid"), wantErr: "WithPIDFile"},
		{name: "rootlesskit dir", opt: WithRootlessKitStateDir("/run/rk"), check: func(t *testing.T, c *config) { wantEq(t, c.rkDir, "/run/rk") }},
		{name: "rootlesskit dir relative", opt: WithRootlessKitStateDir("rk"), wantErr: "WithRootlessKitStateDir"},
		{name: "daemon config", opt: WithDaemonConfig("/etc/d.json"), check: func(t *testing.T, c *config) { wantEq(t, c.daemonConfig, "/etc/d.json") }},
		{name: "daemon config relative", opt: WithDaemonConfig("d.json"), wantErr: "WithDaemonConfig"},

		{name: "binaries", opt: WithBinaries(Binaries{Dockerd: "/usr/bin/dockerd", Path: []string{"/opt/docker/bin"}}),
			check: func(t *testing.T, c *config) { wantEq(t, c.bins.Dockerd, "/usr/bin/dockerd") }},
		{name: "binaries zero", opt: WithBinaries(Binaries{})},
		{name: "binaries relative dockerd", opt: WithBinaries(Binaries{Dockerd: "dockerd"}), wantErr: `WithBinaries: "dockerd" is not absolute`},
		{name: "binaries relative rootlesskit", opt: WithBinaries(Binaries{RootlessKit: "bin/rootlesskit"}), wantErr: `"bin/rootlesskit" is not absolute`},
		{name: "binaries relative path entry", opt: WithBinaries(Binaries{Path: []string{"/usr/bin", "bin"}}), wantErr: `Path entry "bin" is not absolute`},
		{name: "binaries empty path entry", opt: WithBinaries(Binaries{Path: []string{""}}), wantErr: `Path entry "" is not absolute`},

		{name: "engine external", opt: WithEngine(EngineExternal), check: func(t *testing.T, c *config) { wantEq(t, c.engine, EngineExternal) }},
		{name: "engine too big", opt: WithEngine(EngineExternal + 1), wantErr: "WithEngine: unknown engine 3"},
		{name: "engine negative", opt: WithEngine(-1), wantErr: "WithEngine: unknown engine -1"},

		{name: "network", opt: WithNetwork(netdriver.Pasta{MTU: 1500}),
			check: func(t *testing.T, c *config) { wantEq[netdriver.Driver](t, c.net, netdriver.Pasta{MTU: 1500}) }},
		{name: "network nil", opt: WithNetwork(nil), wantErr: "WithNetwork: nil driver"},
		{name: "network nil pointer", opt: WithNetwork((*netdriver.Pasta)(nil)), wantErr: "WithNetwork: nil driver"},
		{name: "port driver", opt: WithPortDriver(portdriver.Builtin{}),
			check: func(t *testing.T, c *config) { wantEq[portdriver.Driver](t, c.port, portdriver.Builtin{}) }},
		{name: "port driver nil", opt: WithPortDriver(nil), wantErr: "WithPortDriver: nil driver"},

		{name: "subid files", opt: WithSubidSource(idmap.Files{}), check: func(t *testing.T, c *config) { wantEq(t, c.subidSource.RootlessKit(), "static") }},
		{name: "subid getsubids", opt: WithSubidSource(idmap.Getsubids{}), check: func(t *testing.T, c *config) { wantEq(t, c.subidSource.RootlessKit(), "dynamic") }},
		{name: "subid nil", opt: WithSubidSource(nil), wantErr: "WithSubidSource: nil source"},

		{name: "logger nil", opt: WithLogger(nil), wantErr: "WithLogger: nil logger"},
		{name: "output nil", opt: WithDaemonOutput(nil), wantErr: "WithDaemonOutput: nil writer"},
		{name: "output", opt: WithDaemonOutput(io.Discard), check: func(t *testing.T, c *config) { wantEq(t, c.output, io.Discard) }},
		{name: "progress nil", opt: WithProgress(nil), wantErr: "WithProgress: nil func"},
		{name: "stop timeout", opt: WithStopTimeout(time.Second), check: func(t *testing.T, c *config) { wantEq(t, c.stopTimeout, time.Second) }},
		{name: "stop timeout zero", opt: WithStopTimeout(0), wantErr: "WithStopTimeout: 0s is not positive"},
		{name: "stop timeout negative", opt: WithStopTimeout(-time.Second), wantErr: "WithStopTimeout: -1s is not positive"},

		{name: "publish", opt: WithPublish(spec), check: func(t *testing.T, c *config) { wantEq(t, len(c.publish), 1) }},
		{name: "publish port zero", opt: WithPublish(spec, portdriver.Spec{ChildPort: 80}), wantErr: "WithPublish: portdriver: invalid spec"},
		{name: "publish bad proto", opt: WithPublish(portdriver.Spec{Parent: spec.Parent, ChildPort: 80, Proto: "sctp"}), wantErr: `unknown protocol "sctp"`},
		{name: "publish family mismatch", opt: WithPublish(portdriver.Spec{Parent: spec.Parent, ChildPort: 80, Proto: portdriver.TCP6}), wantErr: "does not match protocol tcp6"},

		{name: "detach off", opt: WithDetachNetNS(false), check: func(t *testing.T, c *config) {
			if c.detach == nil || *c.detach {
				t.Errorf("detach = %v, want false", c.detach)
			}
		}},
		{name: "detach on", opt: WithDetachNetNS(true), check: func(t *testing.T, c *config) {
			if c.detach == nil || !*c.detach {
				t.Errorf("detach = %v, want true", c.detach)
			}
		}},
		{name: "switches", opt: optionList(WithSourceIP(true), WithHostLoopback(true), WithIPv6(true), WithMTUClamp(true)), check: func(t *testing.T, c *config) {
			w := c.wants()
			if !w.sourceIP || !w.settings.HostLoopback || !w.settings.IPv6 || !w.clampMTU || w.net != nil || w.port != nil {
				t.Errorf("wants = %+v, want the four switches on and nothing else", w)
			}
		}},
		{name: "switches off again", opt: optionList(WithSourceIP(true), WithHostLoopback(true), WithIPv6(true), WithMTUClamp(true),
			WithSourceIP(false), WithHostLoopback(false), WithIPv6(false), WithMTUClamp(false)), check: func(t *testing.T, c *config) {
			if w := c.wants(); w.sourceIP || w.settings.HostLoopback || w.settings.IPv6 || w.clampMTU {
				t.Errorf("wants = %+v, want the later calls to win", w)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := applyOne(t, tt.opt)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidOption) {
				t.Errorf("error %v does not wrap ErrInvalidOption", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "rootless: invalid option: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// optionList applies several options as one, for table entries.
func optionList(opts ...Option) Option {
	return optionFunc(func(c *config) error {
		var errs []error
		for _, o := range opts {
			errs = append(errs, o.apply(c))
		}
		return errors.Join(errs...)
	})
}

func wantEq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestNewConfigDefaults(t *testing.T) {
	c, err := newConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.stopTimeout != 15*time.Second || c.subidSource != (idmap.Auto{}) || c.engine != EngineAuto {
		t.Errorf("defaults: stop %v, subids %q, engine %v", c.stopTimeout, c.subidSource, c.engine)
	}
	if c.logger == nil || c.logger.Enabled(t.Context(), slog.LevelError) {
		t.Error("the default logger must discard everything")
	}
	if !slices.Equal(c.environ, os.Environ()) {
		t.Error("the default environment must be os.Environ()")
	}
}

func TestWithEnviron(t *testing.T) {
	env := []string{"HTTP_PROXY=http://proxy:3128", "TZ=UTC"}
	c, err := newConfig([]Option{WithEnviron(env)})
	if err != nil {
		t.Fatal(err)
	}
	env[0] = "HTTP_PROXY=changed"
	if !slices.Equal(c.environ, []string{"HTTP_PROXY=http://proxy:3128", "TZ=UTC"}) {
		t.Errorf("environ = %q: WithEnviron must copy its argument", c.environ)
	}
	c, _ = newConfig([]Option{WithEnviron([]string{})})
	if len(c.environ) != 0 {
		t.Errorf("an empty, non-nil environment must stay empty, got %d entries", len(c.environ))
	}
}

func TestWithBinariesCopiesPath(t *testing.T) {
	path := []string{"/opt/docker/bin", "/opt/rootlesskit/bin"}
	c, err := newConfig([]Option{WithBinaries(Binaries{Path: path})})
	if err != nil {
		t.Fatal(err)
	}
	path[0] = "/elsewhere"
	if c.bins.Path[0] != "/opt/docker/bin" {
		t.Errorf("Path = %q: WithBinaries must copy the caller's slice", c.bins.Path)
	}
}

func TestNewConfigReportsEveryError(t *testing.T) {
	var out bytes.Buffer
	_, err := newConfig([]Option{
		WithStateDir("rel"),
		nil,
		WithDaemonOutput(&out), // valid options in between change nothing
		WithEngine(9),
		WithDockerdArgs("--data-root=/x", "-H", "tcp://0.0.0.0:2375"), // two errors in one option
	})
	leaves := leafErrors(err)
	if len(leaves) != 5 {
		t.Fatalf("got %d errors, want 5: %v", len(leaves), err)
	}
	for _, e := range leaves {
		if !errors.Is(e, ErrInvalidOption) {
			t.Errorf("%v does not wrap ErrInvalidOption", e)
		}
	}
	if !strings.Contains(err.Error(), "nil Option") {
		t.Errorf("a nil Option is not reported: %v", err)
	}
}

// leafErrors flattens errors.Join trees down to the errors that wrap ErrInvalidOption directly.
func leafErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestWithDockerdArgs(t *testing.T) {
	tests := []struct {
		name    string
		calls   [][]string // one WithDockerdArgs call each
		wantErr []string   // a part of each error, in order
	}{
		{name: "plain flags", calls: [][]string{{"--debug", "--iptables=false", "--log-level=debug", "--host-gateway-ip=10.0.2.2"}}},
		{name: "extra unix socket", calls: [][]string{{"-H", "unix:///run/user/1000/extra.sock", "--host=fd://"}}},
		{name: "data root", calls: [][]string{{"--data-root=/x"}}, wantErr: []string{"--data-root is set by an option of its own"}},
		{name: "data root separate value", calls: [][]string{{"--data-root", "/x"}}, wantErr: []string{"--data-root"}},
		{name: "exec root", calls: [][]string{{"--exec-root=/x"}}, wantErr: []string{"--exec-root"}},
		{name: "pidfile", calls: [][]string{{"--pidfile", "/x.pid"}}, wantErr: []string{"--pidfile"}},
		{name: "-p", calls: [][]string{{"-p", "/x.pid"}}, wantErr: []string{"-p is set"}},
		{name: "-p=", calls: [][]string{{"-p=/x.pid"}}, wantErr: []string{"-p is set"}},
		{name: "-p attached", calls: [][]string{{"-p/x.pid"}}, wantErr: []string{"-p is set"}},
		{name: "config file", calls: [][]string{{"--config-file=/etc/d.json"}}, wantErr: []string{"--config-file"}},
		{name: "all owned flags at once", calls: [][]string{{"--data-root=/a", "--exec-root=/b", "--pidfile=/c", "--config-file=/d"}},
			wantErr: []string{"--data-root", "--exec-root", "--pidfile", "--config-file"}},

		{name: "-H tcp", calls: [][]string{{"-H", "tcp://0.0.0.0:2376"}}, wantErr: []string{"API on tcp://0.0.0.0:2376 without --tlsverify"}},
		{name: "-H=tcp", calls: [][]string{{"-H=tcp://0.0.0.0:2376"}}, wantErr: []string{"tcp://0.0.0.0:2376 without --tlsverify"}},
		{name: "-Htcp", calls: [][]string{{"-Htcp://0.0.0.0:2376"}}, wantErr: []string{"tcp://0.0.0.0:2376 without --tlsverify"}},
		{name: "--host tcp", calls: [][]string{{"--host", "tcp://0.0.0.0:2376"}}, wantErr: []string{"tcp://0.0.0.0:2376 without --tlsverify"}},
		{name: "--host=tcp", calls: [][]string{{"--host=tcp://0.0.0.0:2376"}}, wantErr: []string{"tcp://0.0.0.0:2376 without --tlsverify"}},
		{name: "tcp with --tls only", calls: [][]string{{"--tls", "-H", "tcp://0.0.0.0:2376"}}, wantErr: []string{"without --tlsverify"}},

		{name: "-H tcp tlsverify", calls: [][]string{{"-H", "tcp://0.0.0.0:2376", "--tlsverify", "--tlscacert=/ca.pem"}}},
		{name: "-H=tcp tlsverify", calls: [][]string{{"--tlsverify", "-H=tcp://0.0.0.0:2376"}}},
		{name: "-Htcp tlsverify", calls: [][]string{{"-Htcp://0.0.0.0:2376", "--tlsverify=true"}}},
		{name: "--host tcp tlsverify", calls: [][]string{{"--host", "tcp://0.0.0.0:2376", "--tlsverify"}}},
		{name: "--host=tcp tlsverify", calls: [][]string{{"--host=tcp://0.0.0.0:2376", "--tlsverify"}}},
		{name: "tlsverify in an earlier call", calls: [][]string{{"--tlsverify"}, {"-H", "tcp://0.0.0.0:2376"}}},
		{name: "tlsverify switched off by a later call", calls: [][]string{{"-H", "tcp://0.0.0.0:2376", "--tlsverify"}, {"--tlsverify=false"}},
			wantErr: []string{"without --tlsverify"}},
		{name: "tlsverify in a later call", calls: [][]string{{"-H", "tcp://0.0.0.0:2376"}, {"--tlsverify"}}},
		{name: "an insecure host is reported once", calls: [][]string{{"-H", "tcp://0.0.0.0:2376"}, {"--debug"}},
			wantErr: []string{"without --tlsverify"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []Option
			var all []string
			for _, args := range tt.calls {
				opts = append(opts, WithDockerdArgs(args...))
				all = append(all, args...)
			}
			c, err := newConfig(opts)
			if !slices.Equal(c.dockerdArgs, all) {
				t.Errorf("dockerdArgs = %q, want %q (repeated calls append)", c.dockerdArgs, all)
			}
			errs := leafErrors(err)
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tt.wantErr), err)
			}
			for i, e := range errs {
				if !errors.Is(e, ErrInvalidOption) || !strings.Contains(e.Error(), tt.wantErr[i]) {
					t.Errorf("error %d = %v, want ErrInvalidOption containing %q", i, e, tt.wantErr[i])
				}
			}
		})
	}
}

// TestCheckTCPHosts covers how dockerd reads --host values and --tlsverify.
func TestCheckTCPHosts(t *testing.T) {
	tests := []struct {
		args []string
		host string // the host named in the error; "" means no error
	}{
		{args: nil},
		{args: []string{"-H"}},                                       // no value: dockerd fails on its own
		{args: []string{"--host"}},                                   // likewise
		{args: []string{"-H", ""}},                                   // empty: the default unix socket
		{args: []string{"-H", "unix:///x.sock"}},                     // unix
		{args: []string{"-H", "fd://"}},                              // socket activation
		{args: []string{"--host-gateway-ip=1.2.3.4"}},                // not --host
		{args: []string{"--hosts=tcp://1.2.3.4:1"}},                  // not a dockerd flag; not --host either
		{args: []string{"-H", "0.0.0.0:2375"}, host: "0.0.0.0:2375"}, // no scheme means tcp
		{args: []string{"-H=:2375"}, host: ":2375"},
		{args: []string{"--host", " tcp://127.0.0.1:2375 "}, host: "tcp://127.0.0.1:2375"}, // dockerd trims
		{args: []string{"-H", "unix:///a.sock", "-H", "tcp://1.2.3.4:2375"}, host: "tcp://1.2.3.4:2375"},
		{args: []string{"-H", "tcp://1.2.3.4:2375", "-H", "unix:///a.sock"}, host: "tcp://1.2.3.4:2375"},
		{args: []string{"-H", "tcp://1.2.3.4:2375", "--tlsverify=false"}, host: "tcp://1.2.3.4:2375"},
		{args: []string{"-H", "tcp://1.2.3.4:2375", "--tlsverify", "--tlsverify=false"}, host: "tcp://1.2.3.4:2375"}, // the last wins
		{args: []string{"-H", "tcp://1.2.3.4:2375", "--tlsverify=false", "--tlsverify"}},
		{args: []string{"-H", "tcp://1.2.3.4:2375", "--tlsverify=1"}},
		{args: []string{"-H", "tcp://1.2.3.4:2375", "--tlsverify=True"}},
		{args: []string{"-H", "tcp://1.2.3.4:2375", "--tlsverify=yes"}, host: "tcp://1.2.3.4:2375"}, // pflag rejects "yes"; refusing is safe
		{args: []string{"-H", "TCP://1.2.3.4:2375"}},                                                // dockerd rejects the upper-case scheme itself
	}
	for _, tt := range tests {
		err := checkTCPHosts(tt.args)
		switch {
		case tt.host == "" && err != nil:
			t.Errorf("checkTCPHosts(%q) = %v, want nil", tt.args, err)
		case tt.host != "" && err == nil:
			t.Errorf("checkTCPHosts(%q) = nil, want an error naming %s", tt.args, tt.host)
		case tt.host != "" && !strings.Contains(err.Error(), "API on "+tt.host+" without --tlsverify"):
			t.Errorf("checkTCPHosts(%q) = %v, want it to name %s", tt.args, err, tt.host)
		case err != nil && !errors.Is(err, ErrInvalidOption):
			t.Errorf("checkTCPHosts(%q) = %v, not ErrInvalidOption", tt.args, err)
		}
	}
}
