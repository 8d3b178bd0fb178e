//go:build linux

package rootless

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/internal/proc"
)

// readProc reads process pid from /proc.
func readProc(pid int) (procInfo, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	st, err := proc.ReadStat(pid)
	if err != nil {
		return procInfo{}, err
	}
	p := procInfo{Stat: st}
	p.Exe, _ = os.Readlink(dir + "/exe")
	if cmd, err := os.ReadFile(dir + "/cmdline"); err == nil && len(cmd) > 0 {
		p.Args = strings.Split(strings.TrimSuffix(string(cmd), "\x00"), "\x00")
	}
	return p, nil
}

// descendants lists root and every process below it, parents before children.
func descendants(root int) []procInfo {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]procInfo{}
	var top *procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		st, err := proc.ParseStat(b)
		if err != nil {
			continue
		}
		p := procInfo{Stat: st}
		if pid == root {
			top = &p
		}
		children[p.PPID] = append(children[p.PPID], p)
	}
	if top == nil {
		return nil
	}
	out := []procInfo{*top}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i].PID]...)
	}
	for i := range out {
		if full, err := readProc(out[i].PID); err == nil {
			out[i] = full
		}
	}
	return out
}

// signalName is the name of signal number sig: "SIGKILL".
func signalName(sig int) string {
	if n := unix.SignalName(unix.Signal(sig)); n != "" {
		return n
	}
	return "signal " + strconv.Itoa(sig)
}

// treeExit reads what RootlessKit printed about the end of its child, or of the program the
// child ran (dockerd: the engine's target execs it), and returns that process and its wait
// status:
//
//	[rootlesskit:child ] error: command [/proc/self/exe] exited: signal: killed
//	[rootlesskit:child ] error: command [/proc/self/exe] exited: exit status 1
//	[rootlesskit:parent] error: child exited: signal: killed
//
// The parent's line about its child comes last; when the child only passed on its target's
// end ("exit status N"), the child's own line, just before it, says more.
func treeExit(lines []string) (process string, status int, ok bool) {
	child := func(line string) (int, bool) {
		if !strings.Contains(line, "[rootlesskit:child") || !strings.Contains(line, "error: command [") {
			return 0, false
		}
		_, rest, ok := strings.Cut(line, "] exited: ")
		if !ok {
			return 0, false
		}
		return waitStatusOf(rest)
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if ws, ok := child(lines[i]); ok {
			return "dockerd", ws, true
		}
		_, rest, isParent := strings.Cut(lines[i], "[rootlesskit:parent] error: child exited: ")
		if !isParent {
			continue
		}
		ws, ok := waitStatusOf(rest)
		if !ok {
			return "", 0, false
		}
		if ws&0x7f == 0 {
			for j := i - 1; j >= max(0, i-5); j-- {
				if cws, ok := child(lines[j]); ok {
					return "dockerd", cws, true
				}
			}
		}
		return "RootlessKit's child", ws, true
	}
	return "", 0, false
}

// waitStatusOf reads Go's description of a process's end: "signal: killed", "exit status 1".
func waitStatusOf(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if name, ok := strings.CutPrefix(s, "signal: "); ok {
		if sig := signalNumber(name); sig > 0 {
			return sig, true
		}
		return 0, false
	}
	if n, ok := strings.CutPrefix(s, "exit status "); ok {
		if code, err := strconv.Atoi(n); err == nil && code >= 0 && code <= 255 {
			return code << 8, true
		}
	}
	return 0, false
}

// signalNumber is the number of the signal Go describes as name ("killed", "terminated").
func signalNumber(name string) int {
	for sig := 1; sig < 65; sig++ {
		if syscall.Signal(sig).String() == name {
			return sig
		}
	}
	return 0
}

// daemonized finds a process of this user running the program called name whose command line
// ours accepts: a network program that left the tree (pasta daemonizes).
func daemonized(name string, ours func(args []string) bool) (procInfo, bool) {
	entries, _ := os.ReadDir("/proc")
	uid := os.Getuid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// The real uid, from status: /proc/PID of a non-dumpable process (pasta) is root's.
		if status, err := os.ReadFile("/proc/" + e.Name() + "/status"); err != nil || statusUID(string(status)) != uid {
			continue
		}
		p, err := readProc(pid)
		if err != nil || !strings.HasPrefix(p.Comm, name) && (len(p.Args) == 0 || !strings.HasPrefix(filepath.Base(p.Args[0]), name)) {
			continue
		}
		if ours(p.Args) {
			return p, true
		}
	}
	return procInfo{}, false
}

// statusUID is the real uid in the text of /proc/PID/status; -1 if missing.
func statusUID(status string) int {
	for line := range strings.SplitSeq(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}
