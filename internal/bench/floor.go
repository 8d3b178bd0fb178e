//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// Roles of this program's own re-executions, chosen by envRole.
const (
	envRole   = "_ROOTLESSD_BENCH_ROLE"
	roleFloor = "floor"
	roleCheck = "check"
)

// spawnFloor starts the stack's dockerd as root, the way a rootful installation runs it, but
// with every path private and in new mount and network namespaces: its bridge, firewall rules,
// /run (xtables.lock, containerd's shim sockets) and /etc/docker are its own, so neither the
// host nor another session sees them. Its cgroups are under a parent of its own, removed again.
func (b *bench) spawnFloor(st testbed.Stack) (*daemon, error) {
	b.seq++
	dir := filepath.Join(b.scratch, fmt.Sprintf("floor-%d", b.seq))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	cgroupParent := fmt.Sprintf("rootlessd-bench-%d-%d", os.Getpid(), b.seq)
	sock := filepath.Join(dir, "docker.sock")
	cmd := exec.Command(b.exe, st.Binary("dockerd"),
		"--host=unix://"+sock,
		"--data-root="+filepath.Join(dir, "data"),
		"--exec-root="+filepath.Join(dir, "exec"),
		"--pidfile="+filepath.Join(dir, "docker.pid"),
		"--cgroup-parent=/"+cgroupParent)
	cmd.Env = []string{envRole + "=" + roleFloor, "PATH=" + st.Path(), "HOME=/root"}
	log := &testbed.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL,
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the floor dockerd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() error {
		select {
		case <-done:
			return nil
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			return nil
		case <-time.After(time.Minute):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			return errors.New("the floor dockerd did not exit within a minute of SIGTERM; killed")
		}
	}
	return &daemon{contender: cFloor, sock: sock, started: started, pid: cmd.Process.Pid, done: done,
		stop: stop, output: log.String,
		remove: func() error { return errors.Join(removeCgroups(cgroupParent), os.RemoveAll(dir)) },
		leftovers: func() []testbed.Proc {
			return processesMentioning(dir)
		}}, nil
}

// runFloorRole runs inside the floor's new mount and network namespaces as root: it makes the
// mounts private, puts a tmpfs on /run and /etc/docker, brings up lo, and execs dockerd.
func runFloorRole() int {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "bench floor: no dockerd given")
		return 2
	}
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "bench floor: %s: %v\n", what, err)
		return 1
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("make mounts private", err)
	}
	for _, d := range []string{"/run", "/etc/docker"} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		if err := unix.Mount("tmpfs", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
			return fail("tmpfs on "+d, err)
		}
	}
	if err := linkUp("lo"); err != nil {
		return fail("bring up lo", err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=/root"}
	err := syscall.Exec(os.Args[1], os.Args[1:], env)
	return fail("exec "+os.Args[1], err)
}

// linkUp sets the IFF_UP flag of the interface name.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// removeCgroups removes the floor's cgroup parent from every hierarchy (cgroup v1 or v2).
func removeCgroups(name string) error {
	var errs []error
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if d := "/sys/fs/cgroup/" + name; isDir(d) {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// processesMentioning lists the processes whose command line contains s.
func processesMentioning(s string) []testbed.Proc {
	entries, _ := os.ReadDir("/proc")
	var out []testbed.Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		out = append(out, testbed.Proc{PID: pid, Cmdline: strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))})
	}
	return out
}
