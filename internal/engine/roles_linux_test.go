package engine

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestTargetEnv(t *testing.T) {
	got := targetEnv([]string{"PATH=/x", "HOME=/h"}, []string{"ROOTLESSKIT_STATE_DIR=/s", "ROOTLESSKIT_PARENT_EUID=1000", "_ROOTLESSD_ENGINE_CONFIG={}", "SECRET=1"})
	want := []string{"PATH=/x", "HOME=/h", "ROOTLESSKIT_STATE_DIR=/s", "ROOTLESSKIT_PARENT_EUID=1000"}
	if !slices.Equal(got, want) {
		t.Fatalf("targetEnv = %q, want %q", got, want)
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

type copyUpFunc func([]string) ([]string, error)

func (f copyUpFunc) CopyUp(dirs []string) ([]string, error) { return f(dirs) }

// TestTargetStepsInChild: the embedded engine's child does the target's steps after the copy-up
// and leaves the target's environment (its own, plus RootlessKit's variables) for RootlessKit to
// pass on to the program it starts; a failed copy-up stops before any step.
func TestTargetStepsInChild(t *testing.T) {
	saved := os.Environ()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.Chdir(wd)
		os.Clearenv()
		for _, kv := range saved {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	})
	os.Clearenv()
	for _, kv := range []string{"ROOTLESSKIT_STATE_DIR=/s", "_ROOTLESSD_ENGINE_ROLE=parent", "SECRET=1", "PATH=/helper"} {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	dir := t.TempDir()
	cfg := &Spec{Target: Target{Argv: []string{"/usr/bin/dockerd"}, Env: []string{"PATH=/x", "HOME=/h"}, Dir: dir}}
	var got []string
	steps := &targetSteps{ChildDriver: copyUpFunc(func(d []string) ([]string, error) { got = d; return d, nil }), cfg: cfg}
	copied, err := steps.CopyUp([]string{"/etc", "/run"})
	if err != nil || !slices.Equal(copied, []string{"/etc", "/run"}) || !slices.Equal(got, copied) {
		t.Fatalf("CopyUp = %q, %v (inner got %q)", copied, err, got)
	}
	env := os.Environ()
	slices.Sort(env)
	if want := []string{"HOME=/h", "PATH=/x", "ROOTLESSKIT_STATE_DIR=/s"}; !slices.Equal(env, want) {
		t.Errorf("environment after the steps = %q, want %q", env, want)
	}
	if wd, _ := os.Getwd(); wd != dir {
		t.Errorf("working directory %s, want %s", wd, dir)
	}

	os.Setenv("KEEP", "1")
	boom := errors.New("copy-up failed")
	steps = &targetSteps{ChildDriver: copyUpFunc(func([]string) ([]string, error) { return nil, boom }), cfg: cfg}
	if _, err := steps.CopyUp(nil); !errors.Is(err, boom) {
		t.Errorf("CopyUp error = %v, want %v", err, boom)
	}
	if os.Getenv("KEEP") != "1" {
		t.Error("a failed copy-up replaced the environment")
	}
}
