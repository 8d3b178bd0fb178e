//go:build linux

package rootless

import (
	"strconv"
	"strings"
	"testing"
)

func FuzzTreeExit(f *testing.F) {
	f.Add("[rootlesskit:child ] error: command [/proc/self/exe] exited: signal: killed\n[rootlesskit:parent] error: child exited: exit status 255")
	f.Add("[rootlesskit:parent] error: child exited: signal: terminated")
	f.Add("[rootlesskit:child ] error: command [x] exited: exit status 300")
	f.Fuzz(func(t *testing.T, s string) {
		process, status, ok := treeExit(strings.Split(s, "\n"))
		if !ok {
			return
		}
		if process != "dockerd" && process != "RootlessKit's child" {
			t.Fatalf("process %q", process)
		}
		if sig := status & 0x7f; sig == 0 && status>>8 > 255 || sig > 64 || status < 0 {
			t.Fatalf("wait status %#x from %q", status, s)
		}
	})
}

func FuzzParseLocks(f *testing.F) {
	f.Add("2: FLOCK  ADVISORY  WRITE 25832 fe:00:950293 0 EOF\n2: -> FLOCK  ADVISORY  WRITE 777 fe:00:950293 0 EOF", uint32(0xfe), uint32(0), uint64(950293))
	f.Fuzz(func(t *testing.T, text string, major, minor uint32, ino uint64) {
		pid := parseLocks(text, major, minor, ino)
		if pid < 0 || pid > 0 && !strings.Contains(text, " "+strconv.Itoa(pid)+" ") {
			t.Fatalf("pid %d not in %q", pid, text)
		}
	})
}
