package rootless

import (
	"slices"

	"github.com/rootlessd/rootlessd/netdriver"
	"strings"
	"testing"
)

// callerEnv is a host program's environment with secrets, session variables and the ones the
// daemon needs.
var callerEnv = []string{
	"PATH=/usr/bin", "HOME=/home/u", "XDG_RUNTIME_DIR=/run/user/1000",
	"AWS_SECRET_ACCESS_KEY=canary-aws", "GITHUB_TOKEN=canary-gh", "ROOTLESSD_CANARY=canary",
	"NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=30000000", "LISTEN_FDS=1", "LISTEN_PID=42",
	"DOCKER_HOST=unix:///var/run/docker.sock", "DOCKER_CONTEXT=x", "DOCKERD=/usr/bin/dockerd",
	"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns", "ROOTLESSKIT_STATE_DIR=/x", "_ROOTLESSD_ENGINE_ROLE=parent",
	"HTTPS_PROXY=http://proxy:3128", "no_proxy=localhost", "TZ=Europe/Paris", "LANG=C.UTF-8", "LC_ALL=C",
	"TMPDIR=/var/tmp", "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus", "XDG_CONFIG_HOME=/home/u/.config",
	"GODEBUG=x509sha1=1", "USER=u", "malformed", "=nokey",
}

func TestDaemonEnvironAllowList(t *testing.T) {
	c, err := newConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.environ = callerEnv // as os.Environ() would be
	got := c.daemonEnviron()
	want := []string{"HTTPS_PROXY=http://proxy:3128", "no_proxy=localhost", "TZ=Europe/Paris", "LANG=C.UTF-8", "LC_ALL=C",
		"TMPDIR=/var/tmp", "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus", "XDG_CONFIG_HOME=/home/u/.config",
		"GODEBUG=x509sha1=1", "USER=u"}
	if !slices.Equal(got, want) {
		t.Errorf("default daemon environment\n got %q\nwant %q", got, want)
	}
}

// TestDaemonEnvironExplicit: WithEnviron's variables all reach the daemon, the session's never.
func TestDaemonEnvironExplicit(t *testing.T) {
	c, err := newConfig([]Option{WithEnviron(callerEnv)})
	if err != nil {
		t.Fatal(err)
	}
	got := c.daemonEnviron()
	for _, kv := range got {
		k, _, _ := strings.Cut(kv, "=")
		if reservedEnv(k) {
			t.Errorf("%s reached the daemon", kv)
		}
	}
	for _, kv := range []string{"AWS_SECRET_ACCESS_KEY=canary-aws", "ROOTLESSD_CANARY=canary", "HTTPS_PROXY=http://proxy:3128"} {
		if !slices.Contains(got, kv) {
			t.Errorf("%s, passed by WithEnviron, is missing", kv)
		}
	}
	if c, _ := newConfig([]Option{WithEnviron(nil)}); len(c.daemonEnviron()) != 0 || len(c.environ) != 0 {
		t.Errorf("WithEnviron(nil) gave %q, want an empty environment", c.environ)
	}
}

// TestDaemonEnvironNoSession (regression, issue 14): NOTIFY_SOCKET belongs to the caller (the
// launcher sends READY=1 itself); dockerd and RootlessKit must never see it, or they would
// speak for the unit.
func TestDaemonEnvironNoSession(t *testing.T) {
	for _, set := range []bool{false, true} {
		r := &resolver{c: &config{environ: callerEnv, environSet: set}, h: &host{home: "/home/u", net: &netdriver.Host{PATH: "/stack/bin:/usr/bin"}},
			p: &Plan{Paths: Paths{ExecRoot: "/run/user/1000/rd/docker"}}}
		dockerd := r.dockerdEnv(false)
		for _, kv := range []string{"PATH=/stack/bin:/usr/bin", "HOME=/home/u", "XDG_RUNTIME_DIR=/run/user/1000/rd/docker"} {
			if !slices.Contains(dockerd, kv) {
				t.Errorf("dockerd's environment lacks %s: %q", kv, dockerd)
			}
		}
		checkNoSession(t, "dockerd", dockerd)
		checkNoSession(t, "helper", helperEnv(r.c))
	}
}

func checkNoSession(t *testing.T, name string, env []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] {
			t.Errorf("%s environment sets %s twice", name, k)
		}
		seen[k] = true
	}
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "LISTEN_FDS", "LISTEN_PID", "DOCKER_HOST"} {
		if seen[k] {
			t.Errorf("%s environment has %s", name, k)
		}
	}
}
