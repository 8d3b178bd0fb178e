package setup

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestUninstallPlanSystemd is the golden dry run of an uninstall with systemd, after an
// install with settings and the user's own override.
func TestUninstallPlanSystemd(t *testing.T) {
	tr := bed(t)
	opts := tr.opts(WithSystemd(true), WithSettings(Settings{DockerdFlags: []string{"--data-root=/home/alice/docker-data"}}))
	applyFiles(t, tr, opts...)
	tr.write("/home/alice/.config/systemd/user/docker.service.d/override.conf", "[Service]\nEnvironment=TZ=UTC\n", 0o644)
	p, err := Uninstall(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "uninstall-systemd.golden", p.String())
	want := "systemctl --user stop docker.service\nsystemctl --user disable docker.service\n" +
		"remove " + dropInFile + "\nremove /home/alice/.config/systemd/user/docker.service.d/override.conf\n" +
		"remove /home/alice/.config/systemd/user/docker.service.d\nremove " + unitFile + "\n" +
		"systemctl --user daemon-reload\nsystemctl --user reset-failed docker.service\n"
	if got := actionStrings(p); !strings.HasPrefix(got, want) {
		t.Errorf("actions:\n%s\nwant them to start with:\n%s", got, want)
	}
	if !strings.Contains(p.String(), "setuptool rm /home/alice/docker-data") {
		t.Errorf("the data root from the drop-in is not named:\n%s", p)
	}
	// With the real systemctl, which has no manager here: stop fails and is reported, disable
	// works on the files alone, the files go, and daemon-reload stops the plan with its own
	// error.
	var failed []string
	err = p.Apply(t.Context(), func(a Action, err error) {
		if err != nil {
			failed = append(failed, a.String())
		}
	})
	if ae, ok := errors.AsType[*ActionError](err); !ok || !strings.Contains(ae.Action.String(), "daemon-reload") {
		t.Fatalf("Apply: %v; want it to stop at daemon-reload", err)
	}
	if len(failed) != 2 || !strings.Contains(failed[0], "stop") || !strings.Contains(failed[1], "daemon-reload") {
		t.Errorf("failures reported: %q", failed)
	}
	for _, f := range []string{unitFile, dropInFile, "/home/alice/.config/systemd/user/docker.service.d"} {
		if tr.exists(f) {
			t.Errorf("%s is still there", f)
		}
	}
}

// TestUninstallWithoutSystemd removes the files and the context, makes default current, keeps
// the data; with WithRemoveData it removes the data root too. Nothing of the daemon's
// prerequisites is needed: this tree has no dockerd and no subordinate ids.
func TestUninstallWithoutSystemd(t *testing.T) {
	tr := bed(t)
	applyFiles(t, tr, tr.opts(WithSystemd(true))...) // the unit of an earlier install with systemd
	if err := os.RemoveAll(tr.path("/usr/sbin/dockerd")); err != nil {
		t.Fatal(err)
	}
	tr.write("/home/alice/.local/share/docker/image/layer", "x", 0o644)
	var cfg map[string]any
	_ = json.Unmarshal([]byte(tr.read(cliConfigF)), &cfg)
	if cfg["currentContext"] != "rootless" {
		t.Fatalf("install did not make rootless current: %v", cfg)
	}

	opts := tr.opts(WithSystemd(false))
	p, err := Uninstall(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "uninstall-manual.golden", p.String())
	if slices.ContainsFunc(p.Actions, func(a Action) bool { _, ok := a.(*Command); return ok }) {
		t.Errorf("commands without systemd:\n%s", actionStrings(p))
	}
	if err := p.Apply(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{unitFile, dropInFile} {
		if tr.exists(f) {
			t.Errorf("%s is still there", f)
		}
	}
	if _, _, ok, _ := existingContext(tr.path("/home/alice/.docker"), "rootless"); ok {
		t.Error("context still there")
	}
	cfg = nil
	_ = json.Unmarshal([]byte(tr.read(cliConfigF)), &cfg)
	if _, ok := cfg["currentContext"]; ok {
		t.Errorf("config.json still names a current context: %v", cfg)
	}
	if !tr.exists("/home/alice/.local/share/docker/image/layer") {
		t.Error("the data went without WithRemoveData")
	}

	p, err = Uninstall(t.Context(), append(opts, WithRemoveData(true))...)
	if err != nil {
		t.Fatal(err)
	}
	if got := actionStrings(p); got != "rootless.RemoveAll /home/alice/.local/share/docker (rootlesskit rm -rf)\n" {
		t.Fatalf("second uninstall with WithRemoveData:\n%s", got)
	}
	if err := p.Apply(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if tr.exists("/home/alice/.local/share/docker") {
		t.Error("data root still there")
	}
}

// TestUninstallNothing: with nothing installed the plan is empty and says so.
func TestUninstallNothing(t *testing.T) {
	tr := bed(t)
	p, err := Uninstall(t.Context(), tr.opts(WithSystemd(true))...)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Actions) != 0 || !strings.Contains(p.String(), "docker.service is not installed") {
		t.Errorf("plan:\n%s", p)
	}
}
