//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless/setup"
)

// rootSteps are what these tests need done as root (testbed.AsRoot). Each checks its
// arguments and returns an undo that puts the host back as it was.
var rootSteps = map[string]testbed.RootStep{
	// remedy NAME HOW [SCRIPT]: apply one of setup's remedies as root. NAME is ping,
	// ports-sysctl or ports-cap (on the test binary); HOW is apply (Plan.Apply) or script (run
	// SCRIPT, which must be the plan's Script: what the package tells a user without root).
	"remedy": {Do: remedyStep},
	// sshd USER AUTHORIZED_KEYS: an sshd on a free 127.0.0.1 port for USER; prints the port and
	// the host key.
	"sshd": {Do: sshdStep},
	// hide-subids USER: remove USER's lines from /etc/subuid and /etc/subgid.
	"hide-subids": {Do: hideSubidsStep},
}

func remedyStep(args []string) (string, func() error, error) {
	if len(args) < 2 {
		return "", nil, errors.New("usage: remedy NAME apply|script [SCRIPT]")
	}
	var p *setup.Plan
	var err error
	var sysctl, file, binary string
	switch args[0] {
	case "ping":
		p, err = setup.AllowPing()
		sysctl, file = "net/ipv4/ping_group_range", setup.PingSysctlFile
	case "ports-sysctl":
		p, err = setup.AllowPrivilegedPortsBySysctl(0)
		sysctl, file = "net/ipv4/ip_unprivileged_port_start", setup.PortsSysctlFile
	case "ports-cap":
		binary = testbed.TestBinary()
		p, err = setup.AllowPrivilegedPortsByCapability(binary)
	default:
		return "", nil, fmt.Errorf("unknown remedy %q", args[0])
	}
	if err != nil {
		return "", nil, err
	}
	undo := saveHost(sysctl, file, binary)
	var out []byte
	switch {
	case args[1] == "apply":
		err = p.Apply(context.Background(), nil)
	case args[1] == "script" && len(args) == 3:
		if args[2] != p.Script() {
			return "", nil, fmt.Errorf("the script the user got differs from the plan's:\n%s\n---\n%s", args[2], p.Script())
		}
		// What a user runs with sudo, run by root.
		out, err = exec.Command("/bin/sh", "-c", strings.TrimPrefix(args[2], "sudo ")).CombinedOutput()
	default:
		return "", nil, fmt.Errorf("remedy: %q is not apply or script SCRIPT", args[1])
	}
	if err != nil {
		return string(out), undo, err
	}
	return string(out) + p.String(), undo, nil
}

// saveHost records a sysctl, a file and a file's capabilities, and returns what restores them.
func saveHost(sysctl, file, binary string) func() error {
	var undo []func() error
	if sysctl != "" {
		path := "/proc/sys/" + sysctl
		old, err := os.ReadFile(path)
		if err == nil {
			undo = append(undo, func() error { return os.WriteFile(path, old, 0o644) })
		}
	}
	if file != "" {
		old, err := os.ReadFile(file)
		existed := err == nil
		undo = append(undo, func() error {
			if existed {
				return os.WriteFile(file, old, 0o644)
			}
			if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		})
	}
	if binary != "" {
		buf := make([]byte, 64)
		n, err := unix.Getxattr(binary, "security.capability", buf)
		undo = append(undo, func() error {
			if err != nil {
				if rerr := unix.Removexattr(binary, "security.capability"); rerr != nil && !errors.Is(rerr, unix.ENODATA) {
					return rerr
				}
				return nil
			}
			return unix.Setxattr(binary, "security.capability", buf[:n], 0)
		})
	}
	return func() error {
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i]())
		}
		return errors.Join(errs...)
	}
}

func sshdStep(args []string) (string, func() error, error) {
	if len(args) != 2 || !filepath.IsAbs(args[1]) {
		return "", nil, errors.New("usage: sshd USER /abs/authorized_keys")
	}
	bed, err := testbed.Load()
	if err != nil {
		return "", nil, err
	}
	known := false
	for _, u := range bed.Users {
		known = known || u.Name == args[0]
	}
	if !known {
		return "", nil, fmt.Errorf("%s is not a test user", args[0])
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		return "", nil, fmt.Errorf("openssh-server is not installed (run hack/provision): %v", err)
	}
	dir, err := os.MkdirTemp("/var/tmp", "rootlessd-sshd.")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() error { return os.RemoveAll(dir) }
	key := filepath.Join(dir, "host_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		return string(out), cleanup, fmt.Errorf("ssh-keygen: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", cleanup, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `ListenAddress 127.0.0.1:%d
HostKey %s
PidFile %s/sshd.pid
AuthorizedKeysFile %s
AllowUsers %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM yes
StrictModes yes
LogLevel VERBOSE
`, port, key, dir, args[1], args[0]), 0o600); err != nil {
		return "", cleanup, err
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation
		return "", cleanup, err
	}
	var log bytes.Buffer
	// Under a reaper: the orphans of closing sessions are reaped (this host's PID 1 does not).
	cmd := reaped("/usr/sbin/sshd", "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		return "", cleanup, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() error {
		// The reaper passes it to the listener, and waits for the sessions still closing.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		return cleanup()
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			return log.String(), cleanup, errors.New("sshd exited")
		default:
		}
		if time.Now().After(deadline) {
			return log.String(), stop, errors.New("sshd did not listen within 30s")
		}
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		return "", stop, err
	}
	return strconv.Itoa(port) + "\n" + strings.TrimSpace(string(pub)), stop, nil
}

func hideSubidsStep(args []string) (string, func() error, error) {
	if len(args) != 1 || args[0] == "" {
		return "", nil, errors.New("usage: hide-subids USER")
	}
	var undo []func() error
	restore := func() error {
		var errs []error
		for _, f := range undo {
			errs = append(errs, f())
		}
		return errors.Join(errs...)
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		old, err := os.ReadFile(f)
		if err != nil {
			return "", restore, err
		}
		st, _ := os.Stat(f)
		var keep []string
		for _, l := range strings.SplitAfter(string(old), "\n") {
			if !strings.HasPrefix(l, args[0]+":") {
				keep = append(keep, l)
			}
		}
		if err := writeAtomic(f, []byte(strings.Join(keep, "")), st.Mode().Perm()); err != nil {
			return "", restore, err
		}
		undo = append(undo, func() error { return writeAtomic(f, old, st.Mode().Perm()) })
	}
	return "", restore, nil
}

// writeAtomic replaces path by a rename: other daemons on this machine read these files.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".rootlessd-test"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
