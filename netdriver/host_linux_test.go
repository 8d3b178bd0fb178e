//go:build linux

package netdriver

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestLocalHostKeepsAnswersAcrossProcesses: the real machine's runner keeps a compiled
// program's answer in the user's runtime directory (package probecache), where the next
// process finds it.
func TestLocalHostKeepsAnswersAcrossProcesses(t *testing.T) {
	p, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1)")
	}
	p, _ = filepath.Abs(p)
	if b, err := os.ReadFile(p); err != nil || len(b) < 4 || string(b[:4]) != "\x7fELF" {
		t.Skipf("%s is not an ELF program", p)
	}
	rt := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", rt)
	if _, err := LocalHost().Output(t.Context(), p, "--rootlessd-test"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(rt, "rootlessd-cache", "probes.json")); err != nil || fi.Mode() != 0o600 {
		t.Errorf("no cache in the runtime directory: %v, %v", fi, err)
	}
}
