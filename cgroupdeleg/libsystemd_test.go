package cgroupdeleg

import (
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"
)

// TestGlobLibsystemd: the fast lookup finds what fs.Glob finds, in the same order, for every
// pattern of libsystemdGlobs.
func TestGlobLibsystemd(t *testing.T) {
	fsys := fstest.MapFS{
		"usr/lib/systemd/libsystemd-shared-255.so":                   {},
		"usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so":  {},
		"usr/lib/x86_64-linux-gnu/systemd/libsystemd-core-252.so":    {},
		"usr/lib/aarch64-linux-gnu/systemd/libsystemd-shared-254.so": {},
		"usr/lib/x86_64-linux-gnu/libc.so.6":                         {},
		"usr/lib/systemd-file":                                       {},
		"usr/lib/odd/systemd":                                        {}, // a file, not a directory
		"usr/lib64/systemd/libsystemd-shared-256.so":                 {},
		"lib/i386-linux-gnu/systemd/libsystemd-shared-250.so":        {},
	}
	for _, g := range append(libsystemdGlobs, "nothing/*/systemd/libsystemd-shared-*.so") {
		want, _ := fs.Glob(fsys, g)
		got, err := globLibsystemd(fsys, g)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("globLibsystemd(%q) = %q, %v; fs.Glob says %q", g, got, err, want)
		}
	}
}
