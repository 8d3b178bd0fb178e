//go:build linux

package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// ErrChildLost reports a tree stopped because RootlessKit's child had exited and its parent did
// not notice. RootlessKit's parent starts the port driver and waits for it before it waits for
// the child (pkg/parent.Parent, v3.3.0); a child that fails first, lxc-user-nic's without a DHCP
// answer for one, leaves the parent, and so whoever waits for the daemon, waiting forever. The
// rootlesskit command does the same, so both engines are watched.
var ErrChildLost = errors.New("RootlessKit's child exited during set-up, and RootlessKit's parent kept waiting for its port driver")

// lostAfter is how long an exited child may stay unreaped: a parent past set-up reaps it at
// once (it waits for it), a stuck one never does.
const lostAfter = 3 * time.Second

// watchChild waits for RootlessKit's child (StateChildPID in stateDir, a PID of the host's
// namespace) and kills the tree if the child exits and stays a zombie of p. It uses a pidfd in
// the runtime's poller: no thread is held, and nothing runs while the child lives.
func (p *Process) watchChild(stateDir string) {
	pid := p.awaitChildPID(stateDir)
	if pid <= 0 {
		return
	}
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return // already reaped, or pidfds are missing (Linux < 5.3): nothing to watch
	}
	// The PID was read from a file: make sure it is still p's child, not a reused number.
	if ppid, _, ok := procStat(pid); !ok || ppid != p.PID() {
		unix.Close(fd)
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	go func() {
		<-p.done
		f.Close()
	}()
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return
	}
	exited := false
	err = rc.Read(func(fd uintptr) bool {
		n, perr := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		exited = perr == nil && n > 0
		return exited || perr != nil
	})
	if err != nil || !exited {
		return // the tree ended first
	}
	deadline := time.Now().Add(lostAfter)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if ppid, state, ok := procStat(pid); !ok || state != 'Z' || ppid != p.PID() {
			return // reaped: the parent saw the exit
		}
	}
	p.lost.Store(true)
	_ = p.Kill()
}

// awaitChildPID polls for StateChildPID until it holds a PID or the tree exits.
func (p *Process) awaitChildPID(stateDir string) int {
	file := filepath.Join(stateDir, StateChildPID)
	delay := 10 * time.Millisecond
	for {
		if b, err := os.ReadFile(file); err == nil {
			if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && pid > 0 {
				return pid
			}
		}
		select {
		case <-p.done:
			return 0
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// procStat returns the parent and the state letter of pid from /proc/PID/stat.
func procStat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	return parseStat(b)
}

// parseStat reads the state and the parent from the text of /proc/PID/stat.
func parseStat(b []byte) (ppid int, state byte, ok bool) {
	// "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses; it ends at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	var f []string
	for _, s := range bytes.Fields(b[i+1:]) {
		f = append(f, string(s))
		if len(f) == 2 {
			break
		}
	}
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false
	}
	return ppid, f[0][0], true
}

// lostError wraps err with ErrChildLost when the watcher stopped the tree.
func (p *Process) lostError(err error) error {
	if !p.lost.Load() {
		return err
	}
	return fmt.Errorf("%w, so the tree was stopped: %w", ErrChildLost, err)
}
