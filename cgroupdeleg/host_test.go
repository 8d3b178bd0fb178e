package cgroupdeleg_test

import (
	"os"
	"testing"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
)

// TestDetectRealHost runs Detect on the machine running the test, read-only,
// and checks its Mode against an independent statfs(2). It assumes nothing
// else about the machine.
func TestDetectRealHost(t *testing.T) {
	want := statfsMode(t)
	r, err := cgroupdeleg.Detect(t.Context(), cgroupdeleg.Host(), os.Getuid())
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != want {
		t.Errorf("Detect Mode = %v, statfs says %v", r.Mode, want)
	}
	if m, _ := cgroupdeleg.DetectMode(cgroupdeleg.Host()); m != want {
		t.Errorf("DetectMode = %v, statfs says %v", m, want)
	}
	checkFindings(t, r)
	t.Logf("this host:\n%s", r)
}
