package rootless

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// scriptEnv applies WithScriptEnv to a fresh config.
func scriptEnv(env ...string) (*config, error) {
	c := &config{}
	return c, WithScriptEnv(env).apply(c)
}

// TestScriptEnvDefaults: with nothing set, or everything set empty, WithScriptEnv changes
// nothing, so every default is the script's (the drivers' zero values and Launch's defaults).
func TestScriptEnvDefaults(t *testing.T) {
	var empty []string
	for _, name := range []string{EnvScriptStateDir, EnvScriptNet, EnvScriptMTU, EnvScriptPortDriver, EnvScriptSandbox,
		EnvScriptSeccomp, EnvScriptHostLoopback, EnvScriptDetachNetNS, EnvScriptFlags, EnvScriptDockerd} {
		empty = append(empty, name+"=")
	}
	for name, env := range map[string][]string{"unset": nil, "empty": empty, "unrelated": {"PATH=/bin", "DOCKER_HOST=unix:///x"}} {
		t.Run(name, func(t *testing.T) {
			c, err := scriptEnv(env...)
			if err != nil {
				t.Fatal(err)
			}
			if c.rkDir != "" || c.net != nil || c.port != nil || !c.tuning.IsZero() || c.detach != nil || len(c.publish) != 0 ||
				c.hostLoopback || c.ipv6 || c.bins.Dockerd != "" {
				t.Errorf("config changed: %+v", c)
			}
			// The defaults the script documents, as the zero values resolve them.
			if got := (netdriver.Slirp4netns{}).Properties().MTU; got != 65520 {
				t.Errorf("slirp4netns default MTU %d, want 65520", got)
			}
			if got := (netdriver.VPNKit{}).Properties().MTU; got != 1500 {
				t.Errorf("vpnkit default MTU %d, want 1500", got)
			}
			if got := (netdriver.Pasta{}).Properties().DefaultPortDriver; got != "implicit" {
				t.Errorf("pasta default port driver %q, want implicit", got)
			}
			if got := (netdriver.Slirp4netns{}).Properties().DefaultPortDriver; got != "builtin" {
				t.Errorf("slirp4netns default port driver %q, want builtin", got)
			}
		})
	}
}

func TestScriptEnvValues(t *testing.T) {
	tru, fals := true, false
	tests := []struct {
		env   string
		check func(t *testing.T, c *config)
	}{
		{EnvScriptStateDir + "=/run/user/1000/rk/", func(t *testing.T, c *config) { wantEq(t, c.rkDir, "/run/user/1000/rk") }},
		{EnvScriptNet + "=slirp4netns", func(t *testing.T, c *config) { wantEq[netdriver.Driver](t, c.net, netdriver.Slirp4netns{}) }},
		{EnvScriptNet + "=pasta", func(t *testing.T, c *config) { wantEq[netdriver.Driver](t, c.net, netdriver.Pasta{}) }},
		{EnvScriptNet + "=vpnkit", func(t *testing.T, c *config) { wantEq[netdriver.Driver](t, c.net, netdriver.VPNKit{}) }},
		{EnvScriptNet + "=lxc-user-nic", func(t *testing.T, c *config) { wantEq[netdriver.Driver](t, c.net, netdriver.LXCUserNIC{}) }},
		{EnvScriptNet + "=gvisor-tap-vsock", func(t *testing.T, c *config) {
			wantEq[netdriver.Driver](t, c.net, netdriver.GVisorTapVsock{})
		}},
		{EnvScriptMTU + "=1500", func(t *testing.T, c *config) { wantEq(t, c.tuning.MTU, 1500) }},
		{EnvScriptMTU + "=68", func(t *testing.T, c *config) { wantEq(t, c.tuning.MTU, 68) }},
		{EnvScriptMTU + "=65521", func(t *testing.T, c *config) { wantEq(t, c.tuning.MTU, 65521) }},
		{EnvScriptPortDriver + "=slirp4netns", func(t *testing.T, c *config) {
			wantEq[portdriver.Driver](t, c.port, portdriver.Slirp4netns{})
		}},
		{EnvScriptPortDriver + "=implicit", func(t *testing.T, c *config) { wantEq[portdriver.Driver](t, c.port, portdriver.Implicit{}) }},
		{EnvScriptPortDriver + "=builtin", func(t *testing.T, c *config) { wantEq[portdriver.Driver](t, c.port, portdriver.Builtin{}) }},
		{EnvScriptSandbox + "=auto", func(t *testing.T, c *config) { wantEq(t, c.tuning.Sandbox, netdriver.Tristate("")) }},
		{EnvScriptSandbox + "=true", func(t *testing.T, c *config) { wantEq(t, c.tuning.Sandbox, netdriver.True) }},
		{EnvScriptSandbox + "=1", func(t *testing.T, c *config) { wantEq(t, c.tuning.Sandbox, netdriver.True) }},
		{EnvScriptSandbox + "=false", func(t *testing.T, c *config) { wantEq(t, c.tuning.Sandbox, netdriver.False) }},
		{EnvScriptSeccomp + "=0", func(t *testing.T, c *config) { wantEq(t, c.tuning.Seccomp, netdriver.False) }},
		{EnvScriptSeccomp + "=true", func(t *testing.T, c *config) { wantEq(t, c.tuning.Seccomp, netdriver.True) }},
		// DISABLE_HOST_LOOPBACK: true and 1 keep the loopback blocked; false and 0 open it.
		{EnvScriptHostLoopback + "=true", func(t *testing.T, c *config) { wantEq(t, c.hostLoopback, false) }},
		{EnvScriptHostLoopback + "=1", func(t *testing.T, c *config) { wantEq(t, c.hostLoopback, false) }},
		{EnvScriptHostLoopback + "=false", func(t *testing.T, c *config) { wantEq(t, c.hostLoopback, true) }},
		{EnvScriptHostLoopback + "=0", func(t *testing.T, c *config) { wantEq(t, c.hostLoopback, true) }},
		{EnvScriptDetachNetNS + "=true", func(t *testing.T, c *config) { wantPtr(t, c.detach, &tru) }},
		{EnvScriptDetachNetNS + "=1", func(t *testing.T, c *config) { wantPtr(t, c.detach, &tru) }},
		{EnvScriptDetachNetNS + "=false", func(t *testing.T, c *config) { wantPtr(t, c.detach, &fals) }},
		{EnvScriptDetachNetNS + "=0", func(t *testing.T, c *config) { wantPtr(t, c.detach, &fals) }},
		{EnvScriptDockerd + "=/opt/docker/bin/dockerd", func(t *testing.T, c *config) { wantEq(t, c.bins.Dockerd, "/opt/docker/bin/dockerd") }},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			c, err := scriptEnv(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func wantPtr[T comparable](t *testing.T, got, want *T) {
	t.Helper()
	if (got == nil) != (want == nil) || got != nil && *got != *want {
		t.Errorf("got %v, want %v", deref(got), deref(want))
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestScriptEnvInvalid(t *testing.T) {
	tests := []struct {
		env  string
		want string // after "WithScriptEnv: "
	}{
		{EnvScriptStateDir + "=run/rk", EnvScriptStateDir + `: "run/rk" is not absolute`},
		{EnvScriptNet + "=host", EnvScriptNet + ": Unsupported RootlessKit network driver: host"},
		{EnvScriptNet + "=bridge", EnvScriptNet + `: netdriver.invalid-config: unknown network driver "bridge"`},
		{EnvScriptNet + "=Slirp4netns", EnvScriptNet + `: netdriver.invalid-config: unknown network driver "Slirp4netns"`},
		{EnvScriptMTU + "=65522", EnvScriptMTU + `: "65522" is not an MTU between 68 and 65521`},
		{EnvScriptMTU + "=67", EnvScriptMTU + `: "67" is not an MTU`},
		{EnvScriptMTU + "=0", EnvScriptMTU + `: "0" is not an MTU`},
		{EnvScriptMTU + "=-1500", EnvScriptMTU + `: "-1500" is not an MTU`},
		{EnvScriptMTU + "=1500b", EnvScriptMTU + `: "1500b" is not an MTU`},
		{EnvScriptPortDriver + "=pasta", EnvScriptPortDriver + `: netdriver.invalid-config: unknown port driver "pasta" (did you mean "pesto" or "implicit"?)`},
		{EnvScriptPortDriver + "=socat", EnvScriptPortDriver + `: netdriver.invalid-config: unknown port driver "socat"`},
		{EnvScriptSandbox + "=yes", EnvScriptSandbox + `: "yes" is not auto, true or false`},
		{EnvScriptSeccomp + "=enabled", EnvScriptSeccomp + `: "enabled" is not auto, true or false`},
		{EnvScriptHostLoopback + "=no", EnvScriptHostLoopback + `: "no" is not true or false`},
		{EnvScriptHostLoopback + "=auto", EnvScriptHostLoopback + `: "auto" is not true or false`},
		{EnvScriptDetachNetNS + "=auto", EnvScriptDetachNetNS + ": Unknown DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS value: auto"},
		{EnvScriptDetachNetNS + "=yes", "Unknown DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS value: yes"},
		{EnvScriptDetachNetNS + "=TRUE", "Unknown DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS value: TRUE"},
		{EnvScriptDockerd + "=dockerd", EnvScriptDockerd + `: "dockerd" is not an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			c, err := scriptEnv(tt.env)
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("err = %v, want ErrInvalidOption", err)
			}
			if !strings.Contains(err.Error(), "WithScriptEnv: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
			name, _, _ := strings.Cut(tt.env, "=")
			if !strings.Contains(err.Error(), name) {
				t.Errorf("err = %q does not name %s", err, name)
			}
			if c.net != nil {
				t.Errorf("an invalid value set the network driver to %v", c.net)
			}
			if name == EnvScriptHostLoopback && c.hostLoopback {
				t.Error("an invalid DISABLE_HOST_LOOPBACK opened the host loopback")
			}
		})
	}
}

// TestScriptEnvAllErrors: every invalid variable is reported, not just the first.
func TestScriptEnvAllErrors(t *testing.T) {
	_, err := scriptEnv(EnvScriptNet+"=host", EnvScriptMTU+"=1", EnvScriptDetachNetNS+"=maybe",
		EnvScriptFlags+"=--mtu=1500 --net=slirp4netns")
	if n := len(leafErrors(err)); n != 5 {
		t.Errorf("got %d errors, want 5:\n%v", n, err)
	}
}

// TestScriptEnvLastWins: like a shell, the last assignment of a variable counts.
func TestScriptEnvLastWins(t *testing.T) {
	c, err := scriptEnv(EnvScriptMTU+"=9000", EnvScriptMTU+"=1400")
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, c.tuning.MTU, 1400)
}

func TestScriptEnvFlags(t *testing.T) {
	tru, fals := true, false
	spec := func(s string) portdriver.Spec {
		sp, err := portdriver.ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	tests := []struct {
		flags   string
		env     []string // more variables
		wantErr string
		check   func(t *testing.T, c *config)
	}{
		{flags: "-p 0.0.0.0:2376:2376/tcp --publish=127.0.0.1:8080:80 -p=[::1]:8443:443/tcp6 --publish [::]:53:53/udp",
			check: func(t *testing.T, c *config) {
				want := []portdriver.Spec{spec("0.0.0.0:2376:2376/tcp"), spec("127.0.0.1:8080:80"), spec("[::1]:8443:443/tcp6"), spec("[::]:53:53/udp")}
				if len(c.publish) != len(want) {
					t.Fatalf("publish = %v, want %v", c.publish, want)
				}
				for i := range want {
					wantEq(t, c.publish[i], want[i])
				}
			}},
		{flags: "--cidr=10.1.0.0/24 --ifname eth1", check: func(t *testing.T, c *config) {
			wantEq(t, c.tuning.CIDR, netip.MustParsePrefix("10.1.0.0/24"))
			wantEq(t, c.tuning.IfName, "eth1")
		}},
		{flags: "--cidr 10.1.0.0/24", check: func(t *testing.T, c *config) { wantEq(t, c.tuning.CIDR, netip.MustParsePrefix("10.1.0.0/24")) }},
		{flags: "--ipv6", check: func(t *testing.T, c *config) { wantEq(t, c.ipv6, true) }},
		{flags: "--ipv6=true", check: func(t *testing.T, c *config) { wantEq(t, c.ipv6, true) }},
		{flags: "--ipv6=false", check: func(t *testing.T, c *config) { wantEq(t, c.ipv6, false) }},
		{flags: "--detach-netns", check: func(t *testing.T, c *config) { wantPtr(t, c.detach, &tru) }},
		{flags: "--detach-netns=false", env: []string{EnvScriptDetachNetNS + "=true"},
			check: func(t *testing.T, c *config) { wantPtr(t, c.detach, &fals) }}, // the flags come later, as in the script
		{flags: "--disable-host-loopback", env: []string{EnvScriptHostLoopback + "=false"},
			check: func(t *testing.T, c *config) { wantEq(t, c.hostLoopback, false) }},
		{flags: "--disable-host-loopback=false", check: func(t *testing.T, c *config) { wantEq(t, c.hostLoopback, true) }},
		{flags: "  --ipv6\t\t--ifname=tap1  ", check: func(t *testing.T, c *config) {
			wantEq(t, c.ipv6, true)
			wantEq(t, c.tuning.IfName, "tap1")
		}},

		{flags: "--mtu=1500", wantErr: "--mtu is not supported; supported: -p/--publish, --cidr, --ifname, --ipv6, --detach-netns, --disable-host-loopback"},
		{flags: "--net slirp4netns", wantErr: "--net is not supported"},
		{flags: "--copy-up=/etc", wantErr: "--copy-up is not supported"},
		{flags: "-p", wantErr: "-p needs a value"},
		{flags: "--publish 8080", wantErr: `invalid port spec "8080"`},
		{flags: "-p 80:80/sctp", wantErr: `unknown protocol "sctp"`},
		{flags: "--cidr", wantErr: "--cidr needs a value"},
		{flags: "--cidr=10.0.2.0", wantErr: `--cidr "10.0.2.0" is not an IPv4 prefix`},
		{flags: "--cidr=fd00::/64", wantErr: `--cidr "fd00::/64" is not an IPv4 prefix`},
		{flags: "--cidr=10.0.2.100/24", wantErr: `--cidr "10.0.2.100/24" has host bits set: write it like 10.0.2.0/24`},
		{flags: "--ifname=averyveryverylongname", wantErr: `--ifname "averyveryverylongname" is not an interface name`},
		{flags: "--ifname=a/b", wantErr: `--ifname "a/b" is not an interface name`},
		{flags: "--ipv6=maybe", wantErr: `--ipv6=maybe: "maybe" is not true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.flags, func(t *testing.T) {
			c, err := scriptEnv(append(tt.env, EnvScriptFlags+"="+tt.flags)...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), EnvScriptFlags+": ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want ErrInvalidOption naming %s and containing %q", err, EnvScriptFlags, tt.wantErr)
			}
			if n := len(leafErrors(err)); n != 1 {
				t.Errorf("%d errors for one mistake: %v", n, err)
			}
		})
	}
}

// TestScriptEnvThenOptions: options after WithScriptEnv override what it set.
func TestScriptEnvThenOptions(t *testing.T) {
	c, err := newConfig([]Option{
		WithScriptEnv([]string{EnvScriptNet + "=pasta", EnvScriptStateDir + "=/run/a", EnvScriptPortDriver + "=implicit"}),
		WithNetwork(netdriver.Slirp4netns{}),
		WithRootlessKitStateDir("/run/b"),
		WithPortDriver(portdriver.Builtin{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	wantEq[netdriver.Driver](t, c.net, netdriver.Slirp4netns{})
	wantEq[portdriver.Driver](t, c.port, portdriver.Builtin{})
	wantEq(t, c.rkDir, "/run/b")
}

// TestScriptEnvSettings applies WithScriptEnv's driver settings to every built-in network driver,
// as the driver selection does (netdriver.Apply of config.wants).
func TestScriptEnvSettings(t *testing.T) {
	cidr := netip.MustParsePrefix("10.1.0.0/24")
	all := []string{EnvScriptMTU + "=1400", EnvScriptFlags + "=--cidr=10.1.0.0/24 --ifname=eth9", EnvScriptSandbox + "=true", EnvScriptSeccomp + "=false"}
	tests := []struct {
		name    string
		env     []string
		in      netdriver.Driver
		want    netdriver.Driver
		wantErr diag.ID
	}{
		{name: "nothing set", in: netdriver.Pasta{MTU: 9000}, want: netdriver.Pasta{MTU: 9000}},
		{name: "slirp4netns", env: all, in: netdriver.Slirp4netns{Binary: "/opt/slirp4netns", HostLoopback: true, IPv6: true},
			want: netdriver.Slirp4netns{Binary: "/opt/slirp4netns", HostLoopback: true, IPv6: true, MTU: 1400, CIDR: cidr, IfName: "eth9",
				Sandbox: netdriver.True, Seccomp: netdriver.False}},
		{name: "slirp4netns mtu only", env: []string{EnvScriptMTU + "=1500"}, in: netdriver.Slirp4netns{IfName: "tap1"},
			want: netdriver.Slirp4netns{MTU: 1500, IfName: "tap1"}},
		{name: "slirp4netns sandbox only", env: []string{EnvScriptSandbox + "=false"}, in: netdriver.Slirp4netns{},
			want: netdriver.Slirp4netns{Sandbox: netdriver.False}},
		{name: "pasta", env: all, in: netdriver.Pasta{IPv6: true}, want: netdriver.Pasta{IPv6: true, MTU: 1400, CIDR: cidr, IfName: "eth9"}},
		{name: "gvisor-tap-vsock", env: all, in: netdriver.GVisorTapVsock{}, want: netdriver.GVisorTapVsock{MTU: 1400, CIDR: cidr, IfName: "eth9"}},
		{name: "vpnkit refuses a cidr", env: all, in: netdriver.VPNKit{Binary: "/usr/bin/vpnkit"}, wantErr: netdriver.IDUnsupported},
		{name: "vpnkit", env: []string{EnvScriptMTU + "=1400", EnvScriptFlags + "=--ifname=eth9"}, in: netdriver.VPNKit{Binary: "/usr/bin/vpnkit"},
			want: netdriver.VPNKit{Binary: "/usr/bin/vpnkit", MTU: 1400, IfName: "eth9"}},
		{name: "lxc-user-nic refuses a cidr", env: all, in: netdriver.LXCUserNIC{Bridge: "lxcbr1"}, wantErr: netdriver.IDUnsupported},
		{name: "lxc-user-nic", env: []string{EnvScriptMTU + "=1400", EnvScriptFlags + "=--ifname=eth9"}, in: netdriver.LXCUserNIC{Bridge: "lxcbr1"},
			want: netdriver.LXCUserNIC{Bridge: "lxcbr1", MTU: 1400, IfName: "eth9"}},
		{name: "none ignores the MTU, as RootlessKit does", env: []string{EnvScriptMTU + "=1400", EnvScriptSandbox + "=true"}, in: netdriver.None{}, want: netdriver.None{}},
		{name: "none refuses an ifname", env: []string{EnvScriptFlags + "=--ifname=eth9"}, in: netdriver.None{}, wantErr: netdriver.IDUnsupported},
		{name: "host", env: []string{EnvScriptFlags + "=--ifname=eth0"}, in: netdriver.HostNetwork{}, wantErr: netdriver.IDUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := scriptEnv(tt.env...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := netdriver.Apply(tt.in, c.wants().settings)
			if tt.wantErr != "" {
				if !errors.Is(err, tt.wantErr) || diag.Remedy(err) == "" {
					t.Errorf("err = %v, want %s with a fix", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Apply(%#v) = %#v; want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// TestScriptEnvLaterOptionsWin: a later WithNetwork replaces the script's driver and its driver
// settings (MTU, CIDR), a later switch replaces the script's: later options win, as
// WithScriptEnv's doc says.
func TestScriptEnvLaterOptionsWin(t *testing.T) {
	script := WithScriptEnv([]string{EnvScriptNet + "=slirp4netns", EnvScriptMTU + "=1500", EnvScriptFlags + "=--cidr=10.8.0.0/24",
		EnvScriptHostLoopback + "=false"})
	c, err := newConfig([]Option{script, WithNetwork(netdriver.Slirp4netns{MTU: 9000}), WithHostLoopback(false)})
	if err != nil {
		t.Fatal(err)
	}
	w := c.wants()
	got, err := netdriver.Apply(w.net, w.settings)
	if err != nil {
		t.Fatal(err)
	}
	if want := (netdriver.Slirp4netns{MTU: 9000}); got != want {
		t.Errorf("after WithNetwork: %#v; want %#v (the script's MTU and CIDR must not win)", got, want)
	}
	// And the other way round: the script after an explicit driver tunes it.
	c, err = newConfig([]Option{WithNetwork(netdriver.Slirp4netns{MTU: 9000}), script})
	if err != nil {
		t.Fatal(err)
	}
	w = c.wants()
	if got, err = netdriver.Apply(w.net, w.settings); err != nil {
		t.Fatal(err)
	}
	if want := (netdriver.Slirp4netns{MTU: 1500, CIDR: netip.MustParsePrefix("10.8.0.0/24"), HostLoopback: true}); got != want {
		t.Errorf("script after WithNetwork: %#v; want %#v", got, want)
	}
}
