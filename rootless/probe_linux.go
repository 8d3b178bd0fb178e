//go:build linux

package rootless

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setLocalProbes fills in the probes that start processes in new namespaces, and the system
// calls the conflict checks use.
func setLocalProbes(h *host) {
	h.overlay = overlayProbe
	h.nsRun = func(ctx context.Context, env []string, argv ...string) ([]byte, error) {
		return nsCommand(ctx, unix.CLONE_NEWNET, env, argv...).CombinedOutput()
	}
	h.dial = func(p string) error {
		c, err := net.DialTimeout("unix", p, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	}
	h.fileID = func(p string) (string, uint64, error) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return "", 0, &os.PathError{Op: "stat", Path: p, Err: err}
		}
		return fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev)), st.Ino, nil
	}
	h.openRW = func(p string) error {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err == nil {
			f.Close()
		}
		return err
	}
}

// nsCommand runs argv as the root of a new user namespace that maps only this process's uid
// and gid (which an unprivileged process may write itself, without newuidmap), in the new
// namespaces of flags too. The child is in a process group of its own, killed with ctx, and
// dies with this thread.
func nsCommand(ctx context.Context, flags uintptr, env []string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}, env...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | flags,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		Setpgid:     true,
		Pdeathsig:   syscall.SIGKILL,
	}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = time.Second
	return cmd
}

// overlayProbe mounts an overlay with an upper layer in a fresh directory of dir, inside a new
// user and mount namespace: the mount vanishes with the namespace, and the directory is
// removed before it returns. It runs mount(8), which is found in the system directories.
func overlayProbe(ctx context.Context, dir string) ([]byte, error) {
	mount, err := exec.LookPath("mount")
	if err != nil {
		for _, p := range []string{"/usr/bin/mount", "/bin/mount"} {
			if _, serr := os.Stat(p); serr == nil {
				mount, err = p, nil
				break
			}
		}
		if err != nil {
			return nil, errNoProbe
		}
	}
	tmp, err := os.MkdirTemp(dir, ".rootlessd-overlay-probe-")
	if err != nil {
		return nil, errNoProbe
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o700); err != nil {
			return nil, errNoProbe
		}
	}
	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", tmp, tmp, tmp)
	return nsCommand(ctx, unix.CLONE_NEWNS, nil, mount, "-t", "overlay", "overlay", "-o", opts, tmp+"/merged").CombinedOutput()
}

// statKey identifies a version of a file: size, modification and change times, inode.
func statKey(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d:%d.%d:%d", st.Size, st.Ino, st.Ctim.Sec, st.Ctim.Nsec, fi.ModTime().UnixNano())
	}
	return fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
}
