package setup

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/rootlessd/rootlessd/diag"
)

const (
	unitFile   = "/home/alice/.config/systemd/user/docker.service"
	dropInFile = "/home/alice/.config/systemd/user/docker.service.d/10-rootlessd.conf"
	cliConfigF = "/home/alice/.docker/config.json"
)

func settingsFixture() Settings {
	return Settings{Net: "slirp4netns", MTU: 1500, PortDriver: "slirp4netns", DockerdFlags: []string{"--iptables=false"},
		Env: []string{"DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK=false", "NO_PROXY=localhost,127.0.0.1"}}
}

// TestInstallPlanSystemd is the golden dry run of an install with systemd: the full unit, the
// drop-in, the commands, the context, and the notes.
func TestInstallPlanSystemd(t *testing.T) {
	tr := bed(t)
	p, err := Install(t.Context(), tr.opts(WithSystemd(true), WithSearchPath("/opt/stack/bin"), WithSettings(settingsFixture()))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "install-systemd.golden", p.String())
	want := "write " + unitFile + " (mode 0644)\nwrite " + dropInFile + " (mode 0644)\n" +
		"systemctl --user daemon-reload\nsystemctl --user enable docker.service\nsystemctl --user restart docker.service\n" +
		"GET /_ping on unix:///run/user/1000/docker.sock\n"
	if got := actionStrings(p); !strings.HasPrefix(got, want) {
		t.Errorf("actions:\n%s\nwant them to start with:\n%s", got, want)
	}
}

// TestInstallUnitParsesBack applies the systemd plan to a real tree with the real systemctl,
// which cannot reach a manager here: the files are written, the first systemctl fails with its
// own message, and what was written parses back, with go-systemd, to Docker's semantics.
func TestInstallUnitParsesBack(t *testing.T) {
	tr := bed(t)
	p, err := Install(t.Context(), tr.opts(WithSystemd(true), WithSearchPath("/opt/stack/bin"), WithSettings(settingsFixture()))...)
	if err != nil {
		t.Fatal(err)
	}
	var reported []string
	err = p.Apply(t.Context(), func(a Action, err error) { reported = append(reported, a.String()) })
	ae, ok := errors.AsType[*ActionError](err)
	if !ok {
		t.Fatalf("Apply: %v; want an *ActionError from systemctl, which has no manager to talk to", err)
	}
	ce, ok := errors.AsType[*CommandError](err)
	if !ok || ce.Argv[0] != "systemctl" || ae.Done != 2 || len(reported) != 3 {
		t.Fatalf("Apply stopped at %v after %d actions (reported %q); want systemctl daemon-reload after the two files", ae.Action, ae.Done, reported)
	}
	if ce.Output == "" {
		t.Errorf("the failing systemctl's own output is missing from %v", ce)
	}

	opts, err := unit.DeserializeOptions(strings.NewReader(tr.read(unitFile)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range opts {
		got[o.Section+"."+o.Name] = o.Value
	}
	for k, v := range map[string]string{
		"Service.Type": "notify", "Service.NotifyAccess": "all", "Service.Delegate": "yes", "Service.KillMode": "mixed",
		"Service.Restart": "always", "Service.LimitNOFILE": "infinity", "Service.LimitNPROC": "infinity",
		"Service.LimitCORE": "infinity", "Service.TasksMax": "infinity", "Service.TimeoutSec": "0",
		"Unit.Requires": "dbus.socket", "Install.WantedBy": "default.target",
		"Service.ExecStart":   "/opt/rootlessd/bin/launcher $ROOTLESSD_DOCKERD_FLAGS",
		"Service.Environment": "PATH=/opt/stack/bin:/usr/bin:/usr/sbin:/usr/local/sbin:/usr/local/bin:/sbin:/bin",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	drop, err := unit.DeserializeOptions(strings.NewReader(tr.read(dropInFile)))
	if err != nil {
		t.Fatal(err)
	}
	env := unitEnv(drop)
	for _, kv := range []string{"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns", "DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=1500",
		"DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=slirp4netns", "DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK=false",
		"NO_PROXY=localhost,127.0.0.1", "ROOTLESSD_DOCKERD_FLAGS=--iptables=false"} {
		if !slices.Contains(env, kv) {
			t.Errorf("drop-in environment %q lacks %s", env, kv)
		}
	}
}

// TestInstallPATH: the unit's PATH holds the directories where programs were found, in search
// order, and nothing else of the shell's PATH.
func TestInstallPATH(t *testing.T) {
	tr := bed(t)
	tr.program("/home/alice/node_modules/.bin/tsc")
	p, err := Install(t.Context(), tr.opts(WithSystemd(true), WithSearchPath("/opt/stack/bin"))...)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Actions[0].(*WriteFile)
	path := ""
	for _, l := range strings.Split(string(w.Data), "\n") {
		if v, ok := strings.CutPrefix(l, "Environment=PATH="); ok {
			path = v
		}
	}
	if strings.Contains(path, "node_modules") || !strings.HasPrefix(path, "/opt/stack/bin:") {
		t.Errorf("PATH=%s: want the stack first and nothing of the shell's PATH that holds no daemon program", path)
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !slices.Contains(strings.Split(path, ":"), d) {
			t.Errorf("PATH=%s lacks %s", path, d)
		}
	}
}

// TestInstallIdempotent: a second install after the first finds everything up to date: no
// write, no reload, start (not restart).
func TestInstallIdempotent(t *testing.T) {
	tr := bed(t)
	opts := tr.opts(WithSystemd(false))
	applyFiles(t, tr, opts...)
	p, err := Install(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Drift) != 0 || len(p.Actions) != 0 {
		t.Fatalf("second install: drift %v, actions:\n%s", p.Drift, actionStrings(p))
	}

	sd := tr.opts(WithSystemd(true))
	applyFiles(t, tr, sd...)
	p, err = Install(t.Context(), sd...)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actionStrings(p), "systemctl --user enable docker.service\nsystemctl --user start docker.service\nGET /_ping on unix:///run/user/1000/docker.sock\n"; got != want || len(p.Drift) != 0 {
		t.Errorf("second install with systemd: drift %v, actions:\n%s\nwant:\n%s", p.Drift, got, want)
	}
}

// applyFiles applies a plan's file and context actions, leaving out its commands: as a
// systemd host would have after a successful install.
func applyFiles(t *testing.T, tr *tree, opts ...Option) {
	t.Helper()
	p, err := Install(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	p.Update = true
	var keep []Action
	for _, a := range p.Actions {
		switch a.(type) {
		case *Command, *PingAPI:
		default:
			keep = append(keep, a)
		}
	}
	p.Actions = keep
	if err := p.Apply(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestInstallDrift: a unit edited by hand is reported with a diff and left alone; WithUpdate
// replaces it. A file that differs only in comments is not drift.
func TestInstallDrift(t *testing.T) {
	tr := bed(t)
	opts := tr.opts(WithSystemd(true))
	applyFiles(t, tr, opts...)
	orig := tr.read(unitFile)

	tr.write(unitFile, "# my own comment\n\n"+orig, 0o644)
	p, err := Install(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Drift) != 0 {
		t.Fatalf("a comment is drift: %v", p.Drift)
	}

	edited := strings.Replace(orig, "KillMode=mixed", "KillMode=process", 1)
	tr.write(unitFile, edited, 0o644)
	p, err = Install(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Drift) != 1 || p.Drift[0].Path != unitFile {
		t.Fatalf("drift %v, want the unit", p.Drift)
	}
	for _, want := range []string{"-KillMode=process", "+KillMode=mixed", "@@ "} {
		if !strings.Contains(p.Drift[0].Diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, p.Drift[0].Diff)
		}
	}
	if !strings.Contains(p.String(), "# drift: "+unitFile) {
		t.Errorf("dry run does not show the drift:\n%s", p)
	}
	err = p.Apply(t.Context(), nil)
	if !errors.Is(err, ErrDrift) {
		t.Fatalf("Apply with drift: %v, want ErrDrift", err)
	}
	if tr.read(unitFile) != edited {
		t.Fatal("Apply with drift changed the unit")
	}

	p, err = Install(t.Context(), append(opts, WithUpdate(true))...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(actionStrings(p), "write "+unitFile) {
		t.Fatalf("with WithUpdate, the unit is not written first:\n%s", actionStrings(p))
	}
	_ = p.Apply(t.Context(), nil) // stops at systemctl, which has no manager here
	if tr.read(unitFile) != orig {
		t.Fatalf("after the update the unit is:\n%s", tr.read(unitFile))
	}
}

// TestInstallWithoutSystemd: no unit; the manual command line, what to export, a runtime
// directory like Docker's when there is none, and the context in a config.json whose other keys
// are kept.
func TestInstallWithoutSystemd(t *testing.T) {
	tr := bed(t)
	if err := os.RemoveAll(tr.path("/run/user/1000")); err != nil {
		t.Fatal(err)
	}
	tr.write(cliConfigF, `{"auths": {"registry.example": {"auth": "eA=="}}, "currentContext": "other"}`, 0o600)
	p, err := Install(t.Context(), tr.opts(WithSystemd(false), WithSettings(Settings{Net: "gvisor-tap-vsock", DockerdFlags: []string{"--debug"}}))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "install-manual.golden", p.String())
	if p.Manual == nil {
		t.Fatal("no manual command")
	}
	wantManual := "XDG_RUNTIME_DIR=/home/alice/.docker/run PATH=/usr/bin:/usr/sbin:/usr/local/sbin:/usr/local/bin:/sbin:/bin " +
		"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=gvisor-tap-vsock /opt/rootlessd/bin/launcher --debug"
	if got := p.Manual.String(); got != wantManual {
		t.Errorf("manual:\n%s\nwant:\n%s", got, wantManual)
	}
	wantEnv := []string{"XDG_RUNTIME_DIR=/home/alice/.docker/run", "PATH=/opt/rootlessd/bin:$PATH", "DOCKER_HOST=unix:///home/alice/.docker/run/docker.sock"}
	if !slices.Equal(p.Env, wantEnv) {
		t.Errorf("Env %q, want %q", p.Env, wantEnv)
	}
	if err := p.Apply(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if tr.exists(unitFile) {
		t.Error("a unit was written without systemd")
	}
	if st, err := os.Stat(tr.path("/home/alice/.docker/run")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("runtime dir: %v %v", st, err)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(tr.read(cliConfigF)), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["currentContext"] != "rootless" || cfg["auths"] == nil {
		t.Errorf("config.json: %v; want currentContext rootless and the auths kept", cfg)
	}
	m, _, ok, err := existingContext(tr.path("/home/alice/.docker"), "rootless")
	if err != nil || !ok || contextHost(m) != "unix:///home/alice/.docker/run/docker.sock" {
		t.Errorf("context: %+v ok=%v err=%v", m, ok, err)
	}
}

// TestInstallContextDrift: an existing rootless context for another socket is drift.
func TestInstallContextDrift(t *testing.T) {
	tr := bed(t)
	if err := contextStore(tr.path("/home/alice/.docker")).CreateOrUpdate(contextMetadata("rootless", "unix:///elsewhere.sock", "mine")); err != nil {
		t.Fatal(err)
	}
	p, err := Install(t.Context(), tr.opts(WithSystemd(false))...)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Drift) != 1 || !strings.Contains(p.Drift[0].Diff, "unix:///elsewhere.sock") || !strings.HasSuffix(p.Drift[0].Path, "/meta.json") {
		t.Fatalf("drift %+v", p.Drift)
	}
	p, err = Install(t.Context(), tr.opts(WithSystemd(false), WithUpdate(true))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if m, _, _, _ := existingContext(tr.path("/home/alice/.docker"), "rootless"); contextHost(m) != "unix:///run/user/1000/docker.sock" {
		t.Errorf("after update: %+v", m)
	}
}

// TestInstallOverrides warns about the user's own drop-in that wins over the settings.
func TestInstallOverrides(t *testing.T) {
	tr := bed(t)
	tr.write("/home/alice/.config/systemd/user/docker.service.d/override.conf",
		"[Service]\nEnvironment=\"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\"\n", 0o644)
	p, err := Install(t.Context(), tr.opts(WithSystemd(true), WithSettings(Settings{Net: "slirp4netns"}))...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(p.Notes, func(n Note) bool {
		return n.Severity == diag.Warning && strings.Contains(n.Text, "override.conf sets DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta")
	}) {
		t.Errorf("no warning about override.conf: %v", p.Notes)
	}
}

// TestInstallLinger: the note gives the exact enable-linger line, or says linger is on.
func TestInstallLinger(t *testing.T) {
	tr := bed(t)
	p, err := Install(t.Context(), tr.opts(WithSystemd(true))...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.String(), "run: `sudo loginctl enable-linger alice`") {
		t.Errorf("no enable-linger line:\n%s", p)
	}
	tr.write("/var/lib/systemd/linger/alice", "", 0o644)
	p, _ = Install(t.Context(), tr.opts(WithSystemd(true))...)
	if s := p.String(); strings.Contains(s, "enable-linger") || !strings.Contains(s, "Linger is enabled for alice") {
		t.Errorf("with linger on:\n%s", s)
	}
}

// TestInstallRefuses: bad input gets a clear error naming what and the fix.
func TestInstallRefuses(t *testing.T) {
	tr := bed(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"no launcher", []Option{WithRoot(tr.root), WithUser(alice), WithSystemd(false)}, "WithLauncher"},
		{"missing launcher", tr.opts(WithSystemd(false), WithLauncher("/nope/launcher")), "/nope/launcher is not an executable file"},
		{"relative launcher", tr.opts(WithLauncher("launcher")), `"launcher" is not absolute`},
		{"root", tr.opts(WithUser(User{Name: "root", UID: 0, Home: "/root"})), "root user"},
		{"bad net", tr.opts(WithSettings(Settings{Net: "host"})), "host is not supported"},
		{"unknown net", tr.opts(WithSettings(Settings{Net: "slirp5netns"})), "slirp5netns"},
		{"bad mtu", tr.opts(WithSettings(Settings{MTU: 10})), "MTU 10"},
		{"bad port driver", tr.opts(WithSettings(Settings{PortDriver: "socat"})), "socat"},
		{"flag with space", tr.opts(WithSettings(Settings{DockerdFlags: []string{"--label=a b"}})), "one word"},
		{"env PATH", tr.opts(WithSettings(Settings{Env: []string{"PATH=/x"}})), "PATH"},
		{"bad unit", tr.opts(WithUnit("docker")), "service unit name"},
		{"bad context", tr.opts(WithContext("default")), "not \"default\""},
		{"no dockerd", []Option{WithRoot(newTree(t).root), WithUser(alice), WithSystemd(false), WithLauncher("/opt/rootlessd/bin/launcher")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Install(ctx, tc.opts...)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

// TestSkipIptables adds --iptables=false only when iptables is missing.
func TestSkipIptables(t *testing.T) {
	tr := bed(t)
	p, err := Install(t.Context(), tr.opts(WithSystemd(false), WithSkipIptables(true))...)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(p.Manual.Argv, "--iptables=false") {
		t.Errorf("iptables is there, yet %v", p.Manual.Argv)
	}
	if err := os.Remove(tr.path("/usr/sbin/iptables")); err != nil {
		t.Fatal(err)
	}
	p, err = Install(t.Context(), tr.opts(WithSystemd(false), WithSkipIptables(true))...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.Manual.Argv, "--iptables=false") {
		t.Errorf("iptables is missing, yet %v", p.Manual.Argv)
	}
}
