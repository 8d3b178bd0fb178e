// Package proc reads processes from Linux's /proc/PID/stat: the one parser of that file, used by
// the engine's watch of RootlessKit's child and by the daemon's watchdog.
//
// ParseStat reads the text of a stat file (on every system, for tests and fuzzing); ReadStat
// reads a live process's (Linux):
//
//	s, err := proc.ReadStat(pid)
//	if err == nil && s.Exited() {
//		// a zombie: s.Exit is its wait status while nobody has reaped it
//	}
package proc

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// Stat is what /proc/PID/stat says about a process.
type Stat struct {
	PID, PPID int
	// State is the state letter: R running, S sleeping, D disk sleep, T stopped (SIGSTOP),
	// t stopped by a tracer, Z zombie (exited, not yet reaped), X dead.
	State byte
	// Start is the start time in clock ticks after boot: with PID, the process's identity (a
	// recycled pid has a later start time).
	Start uint64
	// Comm is the command name (at most 15 bytes; it may hold spaces and parentheses).
	Comm string
	// Exit is a zombie's wait status (field 52, Linux 3.5 and later); -1 for a live process or
	// when the kernel does not say.
	Exit int
}

// Stopped reports a process that a signal or a tracer has stopped: it runs no code.
func (s Stat) Stopped() bool { return s.State == 'T' || s.State == 't' }

// Exited reports a process that has exited, reaped or not.
func (s Stat) Exited() bool { return s.State == 'Z' || s.State == 'X' }

// ErrFormat is the error of ParseStat for text that is not a stat file's.
var ErrFormat = errors.New("malformed /proc/PID/stat")

// ParseStat reads the text of /proc/PID/stat. The command name is in parentheses and may itself
// contain spaces and parentheses: it ends at the last ')'.
func ParseStat(b []byte) (Stat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return Stat{}, ErrFormat
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid <= 0 {
		return Stat{}, ErrFormat
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state), f[1] field 4 (ppid), f[19] field 22 (starttime), f[49] field 52.
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, ErrFormat
	}
	s := Stat{PID: pid, State: f[0][0], Comm: string(b[open+1 : end]), Exit: -1}
	if s.PPID, err = strconv.Atoi(f[1]); err != nil || s.PPID < 0 {
		return Stat{}, ErrFormat
	}
	if s.Start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return Stat{}, ErrFormat
	}
	if s.Exited() && len(f) >= 50 {
		if code, err := strconv.Atoi(f[49]); err == nil && code >= 0 && code <= 0xffff {
			s.Exit = code
		}
	}
	return s, nil
}
