package rootless

import (
	"context"
	"errors"
	"fmt"
	"github.com/rootlessd/rootlessd/internal/probecache"
	"io/fs"
	"os"
	"os/user"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/netdriver"
)

// host is everything Resolve reads of the machine: the one seam that makes a plan a pure
// function of the options and the host. localHost is the machine this process runs on; the
// tests build hosts from fixture trees (testdata/hosts).
type host struct {
	uid, gid int
	pid      int    // this process (0 in fixtures): its own locks are not another daemon's
	user     string // login name; "" when the uid has no passwd entry
	home     string // $HOME, else the passwd entry's
	// executable is this program's executable: the embedded engine's helper, and the target
	// step of both engines. initialized says whether rootless.Init ran in this process.
	executable  string
	initialized bool

	// fs is the root file system ("proc/sys/...", "etc/subuid", "usr/bin/dockerd"); net reads
	// it too, with the probes (Run), the search path and the user's groups.
	fs  fs.FS
	net *netdriver.Host
	// cgroups is cgroupdeleg's view of the same machine.
	cgroups *cgroupdeleg.Sys
	// subids roots an idmap.Source at this host's /etc.
	subids func(idmap.Source) idmap.Source
	// helper finds newuidmap or newgidmap; namespace is this process's user namespace.
	helper    func(name string) (idmap.Helper, error)
	namespace func() (idmap.Namespace, error)
	// statfs returns the file system type of the absolute path p, or of its nearest existing
	// ancestor (data roots that do not exist yet); dir reports an existing directory's owner
	// and mode, without following a final symbolic link.
	statfs func(p string) (int64, error)
	dir    func(p string) (uid int, mode fs.FileMode, err error)
	// tun tries to open /dev/net/tun for reading and writing.
	tun func() error
	// selinux reports an enabled SELinux (selinuxenabled).
	selinux func() bool
	// dockerdCache keeps what probeDockerd learnt, by binary version; nil: no cache.
	dockerdCache *sync.Map
	// probeTimeout bounds each program the probes run (dockerd --version, slirp4netns --help),
	// whatever ctx allows: a wrapper script that never exits must not hang Resolve or Check.
	// 0: no bound of its own.
	probeTimeout time.Duration
	// locked reports a flock on the file p held by another process (the state directory's
	// lock of a live daemon of ours); nil: the host cannot tell.
	locked func(p string) bool
	// fileLocked reports a lock on the file p (flock or record lock) that a new open file
	// description would meet, this process's own included: a quick test before /proc/locks,
	// which is slow to read; nil: the host cannot tell, and /proc/locks decides.
	fileLocked func(p string) bool
	// settle is how long a daemon of ours that was just killed may keep its socket and data
	// root while its tree dies (a relaunch right after a SIGKILL of its host program): Resolve
	// looks again for that long before it calls them another daemon's. 0: it looks once.
	settle time.Duration

	// overlay mounts a read-write overlay in a new user and mount namespace, on directories it
	// makes (and removes) in dir, as dockerd's overlay2 driver and containerd's overlayfs
	// snapshotter will: nil when that works, else the mount's output and error. nil: the host
	// cannot probe.
	overlay func(ctx context.Context, dir string) ([]byte, error)
	// nsRun runs argv (an absolute path first) with env as the root of a new user namespace that
	// maps only this user, in a new network namespace: where dockerd runs iptables. nil: the
	// host cannot probe.
	nsRun func(ctx context.Context, env []string, argv ...string) ([]byte, error)
	// dial connects to the unix socket at the absolute path p and hangs up at once.
	dial func(p string) error
	// fileID returns the device (as /proc/locks writes it, "fd:01") and the inode of p.
	fileID func(p string) (dev string, ino uint64, err error)
	// openRW opens the device p for reading and writing and closes it (/dev/fuse).
	openRW func(p string) error
	// probeCache keeps the answers of successful probes (namespaces, subordinate ids) by the
	// versions of the programs and files they depend on; nil: no cache.
	probeCache *sync.Map
	// bootAnswers keeps the namespace probes' successful answers for the rest of the boot,
	// across processes (internal/probecache, in the user's runtime directory), by the same keys
	// as probeCache; nil: none are kept (fixture hosts).
	bootAnswers answerStore
}

// answerStore is a store of probe answers by key.
type answerStore interface {
	Load(key string) ([]byte, bool)
	Store(key string, out []byte)
}

// probeTimeout bounds each probe of the real machine.
const probeTimeout = 30 * time.Second

// probeTimedOut is the cause of a probe that ran out of the host's probeTimeout.
type probeTimedOut struct{ d time.Duration }

func (e *probeTimedOut) Error() string {
	return fmt.Sprintf("it did not finish within %v (a wrapper script that never exits?)", e.d)
}

func (e *probeTimedOut) Is(target error) bool { return target == context.DeadlineExceeded }

// The real machine: built once, since nothing in it changes during the life of a process
// except what the probes cache by program version.
var (
	localOnce sync.Once
	local     *host
)

// localHost is the machine this process runs on, for the search path pathEnv.
func localHost(pathEnv string) *host {
	localOnce.Do(func() { local = newLocalHost() })
	h := *local
	n := *local.net
	n.PATH = pathEnv
	h.net = &n
	h.initialized = engineInitialized()
	return &h
}

func newLocalHost() *host {
	h := &host{uid: os.Getuid(), gid: os.Getgid(), pid: os.Getpid(), fs: os.DirFS("/"), net: netdriver.LocalHost(),
		cgroups: cgroupdeleg.Host(), subids: func(s idmap.Source) idmap.Source { return s },
		helper: idmap.FindHelper, namespace: idmap.CurrentNamespace, dockerdCache: new(sync.Map),
		probeCache: new(sync.Map), bootAnswers: probecache.Local}
	h.home = os.Getenv("HOME")
	if u, err := user.LookupId(strconv.Itoa(h.uid)); err == nil {
		h.user = u.Username
		if h.home == "" {
			h.home = u.HomeDir
		}
	}
	h.executable, _ = os.Executable()
	h.probeTimeout = probeTimeout
	h.settle = dyingTreeGrace
	setLocalOS(h)
	return h
}

// once returns h with its probes memoised: each program is run at most once with the same
// arguments, whatever the checks ask, and a run asked for while the same one is under way
// waits for it (the real machine's runs are also cached across resolves by program version,
// see netdriver.CachedRun, and compiled programs' across processes, see internal/probecache;
// fixture hosts have their own Run and never reach either).
func (h *host) once() *host {
	g := *h
	n := *h.net
	run := h.net.Run
	var mu sync.Mutex
	type answer struct {
		done chan struct{}
		out  []byte
		err  error
	}
	seen := map[string]*answer{}
	n.Run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
		key := fmt.Sprintf("%s\x00%q", name, args)
		mu.Lock()
		a, ok := seen[key]
		if !ok {
			a = &answer{done: make(chan struct{})}
			seen[key] = a
		}
		mu.Unlock()
		if ok {
			select {
			case <-a.done:
				return slices.Clone(a.out), a.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ended := false // cancelled or out of time: the answer says nothing about the program
		if run == nil {
			a.err = errors.New("host cannot run programs")
		} else {
			pctx, cancel := ctx, context.CancelFunc(func() {})
			if h.probeTimeout > 0 {
				pctx, cancel = context.WithTimeoutCause(ctx, h.probeTimeout, &probeTimedOut{h.probeTimeout})
			}
			a.out, a.err = run(pctx, name, args...)
			if ended = pctx.Err() != nil; ended {
				// The program was killed (with its process group); say why, not "signal: killed".
				a.err = fmt.Errorf("no answer: %w", context.Cause(pctx))
			}
			cancel()
		}
		if ended {
			mu.Lock()
			delete(seen, key)
			mu.Unlock()
		}
		close(a.done)
		return slices.Clone(a.out), a.err
	}
	g.net = &n
	return &g
}
