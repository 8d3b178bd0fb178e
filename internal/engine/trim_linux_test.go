//go:build linux

package engine

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"
)

// resident counts the whole pages of b that are in memory.
func resident(t *testing.T, b []byte) (in, all int) {
	pages := wholePages(b)
	vec := make([]byte, len(pages)/unix.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(pages))), uintptr(len(pages)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	for _, v := range vec {
		in += int(v & 1)
	}
	return in, len(vec)
}

// TestReleaseDecoderTables: in a process of its own (this test binary run again), gopacket's
// tables are in memory after its init and gone after releaseDecoderTables, and the process's
// anonymous memory shrinks by at least their size.
func TestReleaseDecoderTables(t *testing.T) {
	if os.Getenv("ROOTLESSD_TEST_RELEASE_TABLES") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReleaseDecoderTables$", "-test.v")
		cmd.Env = append(os.Environ(), "ROOTLESSD_TEST_RELEASE_TABLES=1")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if layers.EthernetTypeMetadata[layers.EthernetTypeIPv4].Name != "IPv4" {
		t.Fatal("gopacket's init did not fill its tables")
	}
	anonBefore := anonKiB(t)
	var want int
	for _, b := range decoderTables() {
		in, all := resident(t, b)
		if in != all {
			t.Fatalf("before: %d of the table's %d pages in memory", in, all)
		}
		want += all
	}
	releaseDecoderTables()
	for _, b := range decoderTables() {
		if in, all := resident(t, b); in != 0 {
			t.Errorf("after: %d of the table's %d pages still in memory", in, all)
		}
	}
	freed := anonBefore - anonKiB(t)
	t.Logf("anonymous memory: %d KiB before, %d KiB less after (%d pages released)", anonBefore, freed, want)
	if freed < int64(want)*int64(unix.Getpagesize())/1024*9/10 {
		t.Errorf("anonymous memory shrank by %d KiB; want about %d KiB", freed, want*unix.Getpagesize()/1024)
	}
	if n := layers.EthernetTypeMetadata[layers.EthernetTypeIPv4].Name; n != "" {
		t.Errorf("a released table still reads %q", n)
	}
}

// anonKiB is this process's anonymous memory, from /proc/self/smaps_rollup.
func anonKiB(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Fatal(err)
	}
	var kb int64
	for _, l := range strings.Split(string(b), "\n") {
		var v int64
		if n, _ := fmt.Sscanf(l, "Anonymous: %d kB", &v); n == 1 {
			kb = v
		}
	}
	return kb
}
