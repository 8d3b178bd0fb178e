//go:build linux

package rootless

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// readProc reads process pid from /proc.
func readProc(pid int) (procInfo, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procInfo{}, err
	}
	p, err := parseStat(b)
	if err != nil {
		return procInfo{}, err
	}
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
		p, err := parseStat(b)
		if err != nil {
			continue
		}
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
