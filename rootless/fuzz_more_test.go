package rootless

import (
	"debug/buildinfo"
	"errors"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/portdriver"
)

// Fuzz targets for the parsers of issue 14's survey that had none: the script's environment and
// flags, dockerd's command line, its version strings, the diagnosis of the daemon's output, and
// /proc/PID/stat. Each property: no panic, and what the parser returns is consistent with its
// input.

func FuzzScriptEnv(f *testing.F) {
	for _, s := range []string{
		EnvScriptNet + "=vpnkit\n" + EnvScriptPortDriver + "=slirp4netns",
		EnvScriptMTU + "=1500\n" + EnvScriptDetachNetNS + "=maybe",
		EnvScriptFlags + "=-p 127.0.0.1:8080:80/tcp --cidr=10.0.3.0/24 --ifname eth9 --ipv6=true --disable-host-loopback=false",
		EnvScriptStateDir + "=/run/user/1000/x\n" + EnvScriptDockerd + "=relative",
		EnvScriptSandbox + "=auto\n" + EnvScriptSeccomp + "=1\n" + EnvScriptHostLoopback + "=0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := &config{}
		err := WithScriptEnv(strings.Split(s, "\n")).apply(c)
		for _, e := range leafErrors(err) {
			if !errors.Is(e, ErrInvalidOption) || !strings.Contains(e.Error(), "DOCKERD") {
				t.Fatalf("error %q does not wrap ErrInvalidOption or name its variable", e)
			}
		}
		if err != nil {
			return
		}
		if c.tuning.MTU != 0 && (c.tuning.MTU < 68 || c.tuning.MTU > 65521) {
			t.Fatalf("MTU %d accepted from %q", c.tuning.MTU, s)
		}
		if c.net != nil && c.port != nil {
			if verr := portdriver.Validate(c.net, c.port); verr != nil {
				t.Fatalf("incompatible drivers accepted from %q: %v", s, verr)
			}
		}
		for _, p := range c.publish {
			if p.Validate() != nil {
				t.Fatalf("invalid publish spec %v accepted", p)
			}
		}
	})
}

func FuzzDockerdArgs(f *testing.F) {
	for _, s := range []string{"-H tcp://0.0.0.0:2375", "--host=:2375 --tlsverify", "-Htcp://x:1 --tlsverify=false", "--pidfile=/x", "-p/run/x.pid", "-H unix:///x.sock"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, " ")
		c := &config{}
		err := WithDockerdArgs(args...).apply(c)
		if terr := checkTCPHosts(c.dockerdArgs); terr != nil && !strings.Contains(terr.Error(), "--tlsverify") {
			t.Fatalf("the TCP refusal does not name the fix: %v", terr)
		}
		for _, e := range leafErrors(err) {
			if !errors.Is(e, ErrInvalidOption) {
				t.Fatalf("error %q does not wrap ErrInvalidOption", e)
			}
		}
	})
}

func FuzzDockerdVersion(f *testing.F) {
	for _, s := range []string{"Docker version 20.10.24+dfsg1, build 297e128", "Docker version 2.0.0-beta.24, build module-proxy", "Docker version 29.5.0", "", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := parseDockerdVersion(s)
		if len(v) > len(s) {
			t.Fatalf("version %q longer than %q", v, s)
		}
		if major, minor, ok := dockerRelease(v); ok && (major < 17 || minor < 0) {
			t.Fatalf("release %d.%d from %q", major, minor, v)
		}
		bi := &buildinfo.BuildInfo{Settings: []debug.BuildSetting{{Key: "-ldflags", Value: s}}}
		if lv := ldflagsVersion(bi); strings.ContainsAny(lv, " \t\"'") {
			t.Fatalf("ldflags version %q has a separator", lv)
		}
	})
}

// FuzzExplain: the diagnosis of any output gives a cause with its fix, or neither.
func FuzzExplain(f *testing.F) {
	for _, s := range []string{
		`level=warning msg="failed to load plugin" error="write /data/x/meta.db: no space left on device"`,
		"[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: no space left on device",
		"newuidmap 1 [0 1000 1] failed: newuidmap: write to uid_map failed: Operation not permitted",
	} {
		f.Add(s, int64(0))
	}
	paths := Paths{StateDir: "/run/user/1000/rd", ExecRoot: "/run/user/1000/rd/docker", DataRoot: "/data/x"}
	f.Fuzz(func(t *testing.T, s string, avail int64) {
		lines := strings.Split(s, "\n")
		cause, fix := explain(lines, paths, func(string) (uint64, uint64, bool) { return uint64(max(avail, 0)), 1 << 30, avail >= 0 })
		if (cause == "") != (fix == "") {
			t.Fatalf("cause %q with fix %q", cause, fix)
		}
		s2 := newLogSink(nil, slog.New(slog.DiscardHandler))
		for _, l := range lines {
			s2.Write([]byte(l + "\n"))
		}
		if c2, _ := explain(s2.Retained(), paths, func(string) (uint64, uint64, bool) { return 0, 0, false }); (c2 == "") != (cause == "") && !strings.Contains(s, "\r") && !strings.Contains(s, "\x00") {
			// The sink drops empty lines and carriage returns; a known symptom survives it.
			if strings.TrimSpace(s) != "" && len(s) < maxLineBytes {
				t.Fatalf("diagnosis through the sink differs: %q vs %q", c2, cause)
			}
		}
	})
}
