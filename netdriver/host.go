package netdriver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rootlessd/rootlessd/internal/probecache"
)

// Host is what drivers may look at on the machine that runs RootlessKit:
// programs on a search path, files under / and the output of programs.
// Checks read it and never change it. [LocalHost] returns the real machine;
// tests build a Host from fixtures:
//
//	h := &netdriver.Host{
//		PATH: "/usr/bin",
//		FS: fstest.MapFS{
//			"usr/bin/slirp4netns": {Mode: 0o755},
//		},
//		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
//			return os.ReadFile("testdata/tools/slirp4netns-1.2.0.help")
//		},
//	}
//
// A Host is safe for concurrent use if its FS, Run and Getxattr are.
type Host struct {
	// PATH is the colon-separated list of absolute directories searched for
	// programs. Relative entries (including "") are ignored.
	PATH string
	// FS is the file system rooted at "/": names have no leading slash, as
	// in "proc/net/route". Drivers read /proc/sys, /proc/net/route,
	// /sys/class/net, /etc/lxc/lxc-usernet, /var/lib/dpkg and the programs'
	// modes through it. Nil means no file can be read.
	FS fs.FS
	// Run runs the program at the absolute path name and returns its
	// standard output and standard error, interleaved. It must honour ctx.
	// Drivers only run programs that change nothing (--help, --version).
	// Nil means no program can be run.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Getxattr returns the value of the extended attribute attr of the file
	// at the absolute path name (for "security.capability"). Nil means
	// extended attributes cannot be read.
	Getxattr func(name, attr string) ([]byte, error)
	// User is the login name RootlessKit runs as; Groups are its group
	// names. They are matched against /etc/lxc/lxc-usernet.
	User   string
	Groups []string
	// KernelSeccomp reports whether the kernel accepts seccomp filters
	// (slirp4netns --enable-seccomp). Nil means it does.
	KernelSeccomp func() bool
}

func (h *Host) kernelSeccomp() bool { return h == nil || h.KernelSeccomp == nil || h.KernelSeccomp() }

// defaultPATH is used by LocalHost when $PATH is empty.
const defaultPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LocalHost returns the machine this process runs on: $PATH, the root file
// system, programs run with LC_ALL=C (each answer cached by program,
// arguments and the program's size, modification time and inode, see
// [CachedRun]; and for compiled programs across this user's processes, in a
// file of $XDG_RUNTIME_DIR/rootlessd-cache),
// extended attributes through getxattr(2), the current user and its groups,
// and the kernel's seccomp support.
func LocalHost() *Host {
	h := &Host{
		PATH:          os.Getenv("PATH"),
		FS:            os.DirFS("/"),
		Run:           localRun,
		Getxattr:      getxattr,
		KernelSeccomp: kernelSeccomp,
	}
	if h.PATH == "" {
		h.PATH = defaultPATH
	}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
		if gids, err := u.GroupIds(); err == nil {
			for _, gid := range gids {
				if g, err := user.LookupGroupId(gid); err == nil {
					h.Groups = append(h.Groups, g.Name)
				}
			}
		}
	}
	return h
}

// localRun runs programs of this machine once per version of the program: in this process
// (CachedRun), and, for ELF programs, across the processes of this user and boot
// (package probecache, in $XDG_RUNTIME_DIR/rootlessd-cache).
var localRun = CachedRun(probecache.Local.Wrap(runLocal))

// runLocal runs name in its own process group, and kills the group when ctx
// ends: a wrapper script's children that keep the output open must not
// survive it, nor keep Output waiting.
func runLocal(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	setProcessGroup(cmd)
	cmd.WaitDelay = time.Second
	return cmd.CombinedOutput()
}

// CachedRun wraps run so that each program is run once per (path, arguments,
// size, modification time, inode): the probes (--help, --version) of one
// launch, and of later ones until the program changes, run one process. Only
// successful answers are kept, at most 256 of them. The result is safe for
// concurrent use if run is.
func CachedRun(run func(ctx context.Context, name string, args ...string) ([]byte, error)) func(ctx context.Context, name string, args ...string) ([]byte, error) {
	var (
		mu    sync.Mutex
		cache = map[string][]byte{}
	)
	return func(ctx context.Context, name string, args ...string) ([]byte, error) {
		fi, err := os.Stat(name)
		if err != nil {
			return run(ctx, name, args...)
		}
		key := fmt.Sprintf("%s\x00%q\x00%d\x00%d\x00%v", name, args, fi.Size(), fi.ModTime().UnixNano(), fileID(fi))
		mu.Lock()
		out, ok := cache[key]
		mu.Unlock()
		if ok {
			return slices.Clone(out), nil
		}
		out, err = run(ctx, name, args...)
		if err != nil {
			return out, err
		}
		mu.Lock()
		if len(cache) >= 256 {
			clear(cache)
		}
		cache[key] = slices.Clone(out)
		mu.Unlock()
		return out, nil
	}
}

// fsName turns an absolute path into a name for h.FS.
func fsName(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("path %q is not absolute", p)
	}
	n := strings.TrimPrefix(path.Clean(p), "/")
	if n == "" {
		n = "."
	}
	if !fs.ValidPath(n) {
		return "", fmt.Errorf("invalid path %q", p)
	}
	return n, nil
}

// Stat returns the file info of the absolute path p (following symbolic
// links, as fs.Stat on os.DirFS does).
func (h *Host) Stat(p string) (fs.FileInfo, error) {
	if h == nil || h.FS == nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: errNoFS}
	}
	n, err := fsName(p)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	return fs.Stat(h.FS, n)
}

// ReadFile reads the file at the absolute path p.
func (h *Host) ReadFile(p string) ([]byte, error) {
	if h == nil || h.FS == nil {
		return nil, &fs.PathError{Op: "read", Path: p, Err: errNoFS}
	}
	n, err := fsName(p)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: p, Err: err}
	}
	return fs.ReadFile(h.FS, n)
}

var (
	errNoFS  = errors.New("host has no file system")
	errNoRun = errors.New("host cannot run programs")
)

// LookPath finds an executable regular file. A name that contains a slash
// must be an absolute path and is checked as is; other names are searched
// in h.PATH. It returns the absolute path.
func (h *Host) LookPath(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty program name")
	}
	if strings.Contains(name, "/") {
		if err := h.isExecutable(name); err != nil {
			return "", err
		}
		return path.Clean(name), nil
	}
	if h == nil {
		return "", fmt.Errorf("%s not found: %w", name, errNoFS)
	}
	for _, dir := range strings.Split(h.PATH, ":") {
		if !path.IsAbs(dir) {
			continue
		}
		p := path.Join(dir, name)
		if h.isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH %q", name, h.PATH)
}

func (h *Host) isExecutable(p string) error {
	fi, err := h.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

// Output runs the program at the absolute path name with args through h.Run
// and returns its output. It returns ctx.Err() without running anything if
// ctx is already done.
func (h *Host) Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h == nil || h.Run == nil {
		return nil, errNoRun
	}
	return h.Run(ctx, name, args...)
}

// FileCapsRaw returns the raw security.capability extended attribute of the
// file at the absolute path p. Parse it with package portdriver's ParseFileCaps.
func (h *Host) FileCapsRaw(p string) ([]byte, error) {
	if h == nil || h.Getxattr == nil {
		return nil, errors.New("host cannot read extended attributes")
	}
	return h.Getxattr(p, "security.capability")
}

// Sysctl reads /proc/sys/<key with dots as slashes>, e.g.
// Sysctl("net.ipv4.ip_unprivileged_port_start"), and returns it trimmed.
func (h *Host) Sysctl(key string) (string, error) {
	if key == "" || strings.ContainsAny(key, "/ \x00") || strings.Contains(key, "..") {
		return "", fmt.Errorf("invalid sysctl key %q", key)
	}
	b, err := h.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
