package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// seLinuxRunLabel is the label iptables needs on /run to create xtables.lock (moby#41230).
const seLinuxRunLabel = "system_u:object_r:iptables_var_run_t:s0"

// prepare does what dockerd-rootless.sh's child does before it execs dockerd. It runs inside the
// user and mount namespaces, as root of the user namespace. hostSysfs says whether /sys is still
// the host's when the program starts: RootlessKit mounts a fresh one after the copy-up for a
// network namespace it does not detach.
func prepare(cfg *Spec, hostSysfs bool) error {
	// Copy-up turned /run into a tmpfs of links to the host's /run. Drop the links dockerd must
	// own, so it creates its own directories; the host's files stay untouched.
	for _, p := range []string{"/run/docker", "/run/containerd", "/run/xtables.lock"} {
		if err := removeLink(p); err != nil {
			return err
		}
	}
	if cfg.Target.SELinux {
		if err := unix.Lsetxattr("/run", "security.selinux", []byte(seLinuxRunLabel+"\x00"), 0); err != nil {
			return fmt.Errorf("relabel /run for iptables (SELinux): %w", err)
		}
	}
	if err := rbindSSL(); err != nil {
		return err
	}
	if hostSysfs {
		if err := hideSecurityFS(); err != nil {
			return err
		}
	}
	return enableForwarding(containersNetNS(cfg))
}

// containersNetNS is the network namespace of the containers, as the target sees it: its own,
// or with detach-netns the one RootlessKit bound in its state directory.
func containersNetNS(cfg *Spec) string {
	if cfg.DetachNetNS {
		return filepath.Join(os.Getenv(EnvStateDir), StateNetNS)
	}
	return "/proc/self/ns/net"
}

// hideSecurityFS covers the host's securityfs with an empty read-only tmpfs where RootlessKit
// kept the host's sysfs (the "none" network: every other driver gets a fresh sysfs, which has no
// securityfs). Otherwise dockerd sees AppArmor, and every container start fails with "Could not
// check if docker-default AppArmor profile was loaded: open
// /sys/kernel/security/apparmor/profiles: permission denied" (seen on Debian 13).
func hideSecurityFS() error {
	const dir = "/sys/kernel/security"
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil || fs.Type != unix.SECURITYFS_MAGIC {
		return nil
	}
	if err := unix.Mount("none", dir, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0555"); err != nil {
		return fmt.Errorf("cover the host's securityfs at %s: %w", dir, err)
	}
	return nil
}

// removeLink removes p if it is a symbolic link (what copy-up leaves); anything else stays.
func removeLink(p string) error {
	st, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) || (err == nil && st.Mode()&os.ModeSymlink == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.Remove(p)
}

// rbindSSL replaces the /etc/ssl link that copy-up made with a recursive bind mount of its
// target. Some distributions' certificate paths break when reached through the link, giving
// x509 "unknown authority" errors (rootlesskit#225).
func rbindSSL() error {
	var fs unix.Statfs_t
	if err := unix.Statfs("/etc", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		return nil // /etc was not copied up
	}
	st, err := os.Lstat("/etc/ssl")
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	real, err := filepath.EvalSymlinks("/etc/ssl")
	if err != nil {
		return nil // a dangling link: nothing to mount
	}
	if err := os.Remove("/etc/ssl"); err != nil {
		return err
	}
	if err := os.Mkdir("/etc/ssl", 0o755); err != nil {
		return err
	}
	if err := unix.Mount(real, "/etc/ssl", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("rbind %s on /etc/ssl: %w", real, err)
	}
	return nil
}

// enableForwarding turns on IP forwarding in the network namespace at netns, which dockerd's
// bridge needs.
func enableForwarding(netns string) error {
	return inNetNS(netns, func() error {
		if err := writeSysctl("net/ipv4/ip_forward"); err != nil {
			return err
		}
		_ = writeSysctl("net/ipv6/conf/all/forwarding") // IPv6 may be off; not fatal
		return nil
	})
}

// inNetNS runs f in the network namespace at netns. It runs on a thread of its own that enters
// the namespace and is then discarded: a thread cannot return to the host's network namespace
// from a user namespace (EPERM).
func inNetNS(netns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		errc <- func() error {
			if netns != "/proc/self/ns/net" {
				fd, err := unix.Open(netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					return fmt.Errorf("open network namespace %s: %w", netns, err)
				}
				defer unix.Close(fd)
				if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
					return fmt.Errorf("enter network namespace %s: %w", netns, err)
				}
			}
			return f()
		}()
	}()
	return <-errc
}

// writeSysctl sets key to 1. The kernel resolves /proc/sys/net for the network namespace of the
// calling thread, so this writes to the namespace the thread has entered.
func writeSysctl(key string) error {
	if err := os.WriteFile(filepath.Join("/proc/sys", key), []byte("1"), 0); err != nil {
		return fmt.Errorf("sysctl %s=1: %w", key, err)
	}
	return nil
}
