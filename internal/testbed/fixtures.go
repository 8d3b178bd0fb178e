//go:build linux

package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// File systems that only root can mount, prepared by Main before it drops privileges: the
// tests need a full one and a read-only one. Main mounts them in a private mount namespace in
// which it starts the test user's run, so no other session on the machine sees them, and they
// vanish with the run, however it ends.
const (
	envFullFS     = "ROOTLESSD_TESTBED_FULLFS"
	envReadOnlyFS = "ROOTLESSD_TESTBED_ROFS"
)

// FullFS returns an empty directory, owned by the test user, on a 4 MiB tmpfs of its own, for
// the test to fill; ReadOnlyFS returns a directory owned by the test user on a read-only
// file system. Without them (Main did not run as root) tb is skipped, or fails under
// ROOTLESSD_REQUIRE_INTEGRATION=1.
func FullFS(tb testing.TB) string { return fixtureDir(tb, envFullFS) }

// ReadOnlyFS: see FullFS.
func ReadOnlyFS(tb testing.TB) string { return fixtureDir(tb, envReadOnlyFS) }

func fixtureDir(tb testing.TB, key string) string {
	tb.Helper()
	dir := os.Getenv(key)
	if dir == "" {
		msg := "no root-made file systems: run the tests as root (testbed.Main mounts them before it drops privileges)"
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return dir
}

// fixtureBase is the mount point of the fixtures' tmpfs.
func fixtureBase(u User) string { return "/var/tmp/rootlessd-fs." + strconv.Itoa(u.UID) }

// startPrivate starts cmd, which runs as u, in a new private mount namespace holding the
// fixture file systems, and returns the variables naming them (already in cmd.Env). The
// namespace belongs to a locked thread that started cmd; it stays until done is closed (the
// child's Pdeathsig is tied to that thread). If the mounts cannot be made, cmd starts without
// them and the tests that need them skip or fail.
func startPrivate(cmd *exec.Cmd, u User, done <-chan struct{}) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread and its namespace end with this goroutine
		env, err := privateMounts(u)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testbed: no fixture file systems: %v\n", err)
		}
		cmd.Env = append(cmd.Env, env...)
		started <- cmd.Start()
		<-done
	}()
	return <-started
}

// privateMounts unshares this thread's mount namespace and mounts the fixtures under a tmpfs
// of their own, on an empty directory of the host's /var/tmp (fixtureBase, which runAs removes
// afterwards).
func privateMounts(u User) ([]string, error) {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("unshare the mount namespace: %w", err)
	}
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("make / private: %w", err)
	}
	base := fixtureBase(u)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	owner := fmt.Sprintf("uid=%d,gid=%d", u.UID, u.GID)
	if err := unix.Mount("tmpfs", base, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=16m,mode=0755"); err != nil {
		return nil, fmt.Errorf("mount %s: %w", base, err)
	}
	full, ro := filepath.Join(base, "full"), filepath.Join(base, "ro")
	var errs []error
	for _, d := range []string{full, ro} {
		errs = append(errs, os.Mkdir(d, 0o755))
	}
	errs = append(errs,
		unix.Mount("tmpfs", full, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=4m,mode=0700,"+owner),
		unix.Mount("tmpfs", ro, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755,"+owner))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	data := filepath.Join(ro, "data")
	if err := errors.Join(os.Mkdir(data, 0o700), os.Chown(data, u.UID, u.GID)); err != nil {
		return nil, err
	}
	if err := unix.Mount("", ro, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return nil, fmt.Errorf("remount %s read-only: %w", ro, err)
	}
	return []string{envFullFS + "=" + full, envReadOnlyFS + "=" + data}, nil
}
