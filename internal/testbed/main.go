//go:build linux

package testbed

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// dropErr records why Main could not drop privileges; Require reports it.
var dropErr error

// Main runs the tests of an integration package. As root it re-executes the test binary as the
// bed's first test user (or the one named by ROOTLESSD_TESTBED_USER) and exits with its status;
// otherwise it runs m directly.
//
// After the tests, Main (as root) looks for processes the test user left behind. Any such process
// is listed, killed, and turns a passing run into a failing one: a test that leaks processes is
// broken even when its own assertions passed.
func Main(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	bed, err := Load()
	if err != nil {
		dropErr = err
		os.Exit(m.Run())
	}
	u, err := bed.testUser()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
		os.Exit(1)
	}
	code, err := runAs(u)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
		os.Exit(1)
	}
	if left := ProcessesOf(u.UID); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "testbed: FAIL: processes of %s left behind after the tests:\n", u.Name)
		for _, p := range left {
			fmt.Fprintf(os.Stderr, "\t%d %s\n", p.PID, p.Cmdline)
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// testUser is the user the tests run as: the first of the bed, unless EnvUser names another.
// Two runs as different users can share one machine: each checks only its own processes.
func (b *Bed) testUser() (User, error) {
	name := os.Getenv(EnvUser)
	if name == "" {
		return b.Users[0], nil
	}
	for _, u := range b.Users {
		if u.Name == name {
			return u, nil
		}
	}
	// Another user made for a parallel run on a developer's machine: it must exist.
	u, err := lookupUser(name)
	if err != nil {
		return User{}, fmt.Errorf("%s=%s is not a test user of the bed (%v): %w", EnvUser, name, b.Users, err)
	}
	return u, nil
}

// runAs re-executes this test binary as u. The binary is copied first: `go test` builds it in a
// directory only root can enter.
func runAs(u User) (code int, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("/var/tmp", "rootlessd-itest.")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return 0, err
	}
	bin := filepath.Join(dir, filepath.Base(exe))
	if err := copyFile(exe, bin, 0o755); err != nil {
		return 0, err
	}
	agent, err := startRootAgent(u, bin) // the package's root steps (root.go), if any
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, agent.close()) }()
	pkgDir, _ := os.Getwd()
	cmd := exec.Command(bin, testArgs(os.Args[1:])...)
	cmd.Dir = dir
	cmd.Env = append(passEnv(os.Environ()),
		"HOME="+u.Home, "USER="+u.Name, "LOGNAME="+u.Name,
		"XDG_RUNTIME_DIR="+u.RuntimeDir, "PATH="+SystemPath, envPkgDir+"="+pkgDir)
	cmd.Env = append(cmd.Env, agent.env()...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}},
		Pdeathsig:  syscall.SIGKILL, // the tests die with this wrapper (e.g. when go test times out)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start tests as %s: %w", u.Name, err)
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// testArgs drops flags that name files in root's private build directory.
func testArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "-test.testlogfile=") || strings.HasPrefix(a, "-test.gocoverdir=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// passEnv keeps the caller's environment minus what belongs to root's session.
func passEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME" || k == "USER" || k == "LOGNAME" || k == "PATH" || k == "TMPDIR" || k == "GOCOVERDIR",
			strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "DOCKER_"), strings.HasPrefix(k, "SUDO_"):
			continue
		}
		out = append(out, kv)
	}
	return out
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
