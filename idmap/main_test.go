package idmap

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for getsubids: with
// IDMAP_FAKE_GETSUBIDS set to a directory, it prints the file named after
// its arguments (spaces as '_'), or fails like getsubids when there is none.
// A file ending in ".exit" holds an exit status instead.
func TestMain(m *testing.M) {
	if dir := os.Getenv("IDMAP_FAKE_GETSUBIDS"); dir != "" {
		name := strings.Join(os.Args[1:], "_")
		if data, err := os.ReadFile(filepath.Join(dir, name+".exit")); err == nil {
			var code int
			fmt.Sscan(string(data), &code)
			fmt.Fprintln(os.Stderr, "fake getsubids: failing on purpose")
			os.Exit(code)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error fetching ranges")
			os.Exit(1)
		}
		os.Stdout.Write(data)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeGetsubids returns a Getsubids that runs the test binary with the given
// outputs, keyed by arguments ("alice", "-g_1000", ...).
func fakeGetsubids(t *testing.T, outputs map[string]string) Getsubids {
	dir := t.TempDir()
	for name, out := range outputs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("IDMAP_FAKE_GETSUBIDS", dir)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Getsubids{Path: exe}
}
