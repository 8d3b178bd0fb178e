package engine

import (
	"errors"
	"os"
	"slices"
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
