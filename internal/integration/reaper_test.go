//go:build integration

package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// envReaper makes this test binary a reaper for the command in its arguments (see reap).
const envReaper = "ROOTLESSD_IT_REAPER"

// reaped returns a command that runs argv under this test binary as a reaper: a child
// subreaper that forwards SIGTERM and SIGINT to argv and reaps every descendant that argv
// leaves behind before it exits with argv's status. The test bed's PID 1 does not reap
// orphans, and the docker CLI's ssh helper and sshd's sessions leave some (the CLI does not
// wait for its ssh; a session's `docker system dial-stdio` can outlive its sshd).
func reaped(argv ...string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	cmd := exec.Command(self, argv...)
	cmd.Env = append(os.Environ(), envReaper+"=1")
	return cmd
}

func init() {
	if os.Getenv(envReaper) != "1" {
		return
	}
	os.Exit(reap(os.Args[1:]))
}

func reap(argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "reaper: no command")
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "reaper:", err)
		return 2
	}
	os.Unsetenv(envReaper)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "reaper:", err)
		return 127
	}
	main := cmd.Process.Pid
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	code := -1
	var deadline time.Time
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			return code
		case err != nil && !errors.Is(err, unix.EINTR):
			fmt.Fprintln(os.Stderr, "reaper:", err)
			return 2
		case pid == main:
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			deadline = time.Now().Add(10 * time.Second)
		case pid > 0:
			continue
		}
		if code >= 0 && time.Now().After(deadline) {
			killChildren() // descendants that would not end: they die with the reaper's check
			deadline = time.Now().Add(time.Hour)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killChildren kills this process's remaining children.
func killChildren() {
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == self {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
