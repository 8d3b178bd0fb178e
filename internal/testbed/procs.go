//go:build linux

package testbed

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a process seen in /proc.
type Proc struct {
	PID     int
	Cmdline string
}

// ProcessesOf lists the processes whose real uid is uid, except this process. Zombies count: a
// zombie is a child nobody reaped.
func ProcessesOf(uid int) []Proc {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name()), &st) != nil || int(st.Uid) != uid {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil || realUID(status) != uid {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, Proc{PID: pid, Cmdline: strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))})
	}
	return out
}

func realUID(status []byte) int {
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return -1
}

// AssertNoProcesses fails tb if a process of this user other than the test itself still exists
// after a grace period. The grace period covers processes that are already dying (SIGKILL
// delivery and reaping are asynchronous); it bounds a wait, it does not time anything.
func AssertNoProcesses(tb testing.TB, grace time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(grace)
	for {
		left := ProcessesOf(os.Getuid())
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				tb.Errorf("process left behind: %d %s", p.PID, p.Cmdline)
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// NamespaceHolders lists the processes whose namespace of some kind is ns, a
// /proc/PID/ns/KIND link value such as "mnt:[4026532571]".
func NamespaceHolders(ns string) []Proc {
	kind, _, _ := strings.Cut(ns, ":")
	entries, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", kind)); err == nil && l == ns {
			pid, _ := strconv.Atoi(e.Name())
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			out = append(out, Proc{PID: pid, Cmdline: strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))})
		}
	}
	return out
}
