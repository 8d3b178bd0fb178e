package engine

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	good := Config{StateDir: "/run/user/1000/rk", Target: Target{Argv: []string{"/usr/bin/dockerd"}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := Config{StateDir: "rk", DetachNetNS: true, Target: Target{Argv: []string{"dockerd"}}}
	err := bad.Validate()
	for _, want := range []string{`state dir "rk" is not absolute`, `target ["dockerd"] is not an absolute program path`, "detach-netns needs a network driver"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to report %q", err, want)
		}
	}
}

func TestConfigTravelsThroughTheEnvironment(t *testing.T) {
	c := Config{StateDir: "/s", Net: []byte(`{"name":"slirp4netns"}`), Publish: []string{"127.0.0.1:8080:80/tcp"},
		DetachNetNS: true, PIDNS: true, CopyUp: []string{"/etc", "/run"}, Propagation: "rslave",
		Target: Target{Argv: []string{"/bin/dockerd", "--debug"}, Env: []string{"A=b c"}, Prepare: true, SELinux: true}}
	enc, err := encodeConfig(&c)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envConfig, enc)
	got, err := decodeConfig()
	if err != nil {
		t.Fatal(err)
	}
	if got.StateDir != c.StateDir || string(got.Net) != string(c.Net) || !slices.Equal(got.Publish, c.Publish) ||
		!got.DetachNetNS || !got.PIDNS || !slices.Equal(got.Target.Argv, c.Target.Argv) || !slices.Equal(got.Target.Env, c.Target.Env) || !got.Target.SELinux {
		t.Fatalf("round trip changed the config:\n got %+v\nwant %+v", got, c)
	}
	t.Setenv(envConfig, "{")
	if _, err := decodeConfig(); err == nil {
		t.Error("decodeConfig accepted malformed JSON")
	}
}

func TestCleanEnv(t *testing.T) {
	got := cleanEnv([]string{"PATH=/bin", "LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=x", "_ROOTLESSD_ENGINE_ROLE=parent", "HOME=/h"})
	if want := []string{"PATH=/bin", "HOME=/h"}; !slices.Equal(got, want) {
		t.Fatalf("cleanEnv = %q, want %q (systemd activation and engine keys must not leak)", got, want)
	}
}

func TestTargetEnv(t *testing.T) {
	got := targetEnv([]string{"PATH=/x", "HOME=/h"}, []string{"ROOTLESSKIT_STATE_DIR=/s", "ROOTLESSKIT_PARENT_EUID=1000", "_ROOTLESSD_ENGINE_CONFIG={}", "SECRET=1"})
	want := []string{"PATH=/x", "HOME=/h", "ROOTLESSKIT_STATE_DIR=/s", "ROOTLESSKIT_PARENT_EUID=1000"}
	if !slices.Equal(got, want) {
		t.Fatalf("targetEnv = %q, want %q", got, want)
	}
}

func TestParsePublish(t *testing.T) {
	specs, err := parsePublish([]string{"127.0.0.1:8080:80/tcp", "0.0.0.0:2376:2376/tcp"})
	if err != nil || len(specs) != 2 || specs[0].ParentPort != 8080 || specs[0].ChildPort != 80 || specs[1].ParentIP != "0.0.0.0" {
		t.Fatalf("parsePublish = %+v, %v", specs, err)
	}
	for _, bad := range []string{"8080", "127.0.0.1:0:80/tcp", "127.0.0.1:8080:80/sctpx"} {
		if _, err := parsePublish([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("parsePublish(%q) = %v; want an error naming it", bad, err)
		}
	}
}

func TestRemoveLinkKeepsRealFiles(t *testing.T) {
	dir := t.TempDir()
	file, link := dir+"/file", dir+"/link"
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, link, dir + "/missing"} {
		if err := removeLink(p); err != nil {
			t.Fatalf("removeLink(%s): %v", p, err)
		}
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link survived: %v", err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("a real file was removed: %v", err)
	}
}
