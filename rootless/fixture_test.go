package rootless

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/netdriver"
)

// fixture describes a machine for Resolve, built from files: the seam makes a plan a pure
// function of the options and the host, so the plan can be tested on hosts this machine is not.
type fixture struct {
	programs []string          // executables (absolute paths)
	setuid   []string          // setuid-root executables
	files    map[string]string // absolute path -> content; "tool:NAME" reads ../netdriver/testdata/tools/NAME
	outputs  map[string]string // "path arg..." -> output, as files
	sysctls  map[string]string // key -> value
	cgroups  string            // a cgroupdeleg fixture host (../cgroupdeleg/testdata/hosts/NAME)
	noInit   bool              // rootless.Init was not called
	tun      error             // opening /dev/net/tun fails with it
	uid      int               // default 1000

	// The probes answer with success unless listed: "overlay" for the overlay mount, and the
	// command line ("/usr/sbin/iptables -w -t nat -N ROOTLESSD-PROBE") for the others.
	probes  map[string]probeAnswer
	sockets map[string]error   // unix sockets (also made files of the tree) and what connecting says
	devices map[string]error   // openRW: nil opens; unlisted devices do not exist
	dirs    map[string]dirInfo // directories beyond the default ones
	fileIDs map[string]string  // path -> "dev:ino" for /proc/locks
}

// probeAnswer is what a fixture probe prints and returns.
type probeAnswer struct {
	out string
	err error
}

// dirInfo is a fixture directory's owner and mode.
type dirInfo struct {
	uid  int
	mode fs.FileMode
}

// clone copies f deeply enough to change it.
func (f fixture) clone() fixture {
	g := f
	g.programs, g.setuid = slices.Clone(f.programs), slices.Clone(f.setuid)
	g.files, g.outputs, g.sysctls = cloneMap(f.files), cloneMap(f.outputs), cloneMap(f.sysctls)
	g.probes, g.sockets, g.devices = maps.Clone(f.probes), maps.Clone(f.sockets), maps.Clone(f.devices)
	g.dirs, g.fileIDs = maps.Clone(f.dirs), maps.Clone(f.fileIDs)
	return g
}

// probe makes the probe named key answer out and err.
func (f fixture) probe(key, out string, err error) fixture {
	g := f.clone()
	if g.probes == nil {
		g.probes = map[string]probeAnswer{}
	}
	g.probes[key] = probeAnswer{out, err}
	return g
}

// socket makes p a unix socket that answers connect with err (nil: accepted).
func (f fixture) socket(p string, err error) fixture {
	g := f.clone()
	if g.sockets == nil {
		g.sockets = map[string]error{}
	}
	g.sockets[p] = err
	return g
}

// dir adds a directory.
func (f fixture) dir(p string, uid int, mode fs.FileMode) fixture {
	g := f.clone()
	if g.dirs == nil {
		g.dirs = map[string]dirInfo{}
	}
	g.dirs[p] = dirInfo{uid, mode}
	return g
}

// device makes the device p open with err.
func (f fixture) device(p string, err error) fixture {
	g := f.clone()
	if g.devices == nil {
		g.devices = map[string]error{}
	}
	g.devices[p] = err
	return g
}

// forkErr is the error of a probe whose user namespace could not be created.
func forkErr(errno syscall.Errno) error {
	return &fs.PathError{Op: "fork/exec", Path: "/usr/bin/mount", Err: errno}
}

func cloneMap(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (f fixture) with(programs ...string) fixture {
	g := f.clone()
	g.programs = append(g.programs, programs...)
	return g
}

func (f fixture) without(programs ...string) fixture {
	g := f.clone()
	g.programs = slices.DeleteFunc(g.programs, func(p string) bool { return slices.Contains(programs, p) })
	for _, p := range programs {
		delete(g.files, p)
	}
	return g
}

func (f fixture) out(cmd, output string) fixture {
	g := f.clone()
	g.outputs[cmd] = output
	return g
}

func (f fixture) file(path, content string) fixture {
	g := f.clone()
	g.files[path] = content
	return g
}

func (f fixture) sysctl(key, value string) fixture {
	g := f.clone()
	g.sysctls[key] = value
	return g
}

// Engine stacks and programs of the fixtures.
func (f fixture) dockerd(version string) fixture {
	switch version {
	case "library-import": // a build from source: the features are read from its string literals
		return f.file("/usr/bin/dockerd", "\x7fnot an ELF... "+string(symDetachNetNS)+" ... "+string(symPortsAPI)).
			out("/usr/bin/dockerd --version", "Docker version library-import, build module-proxy\n")
	default:
		return f.file("/usr/bin/dockerd", "dockerd "+version).out("/usr/bin/dockerd --version", "Docker version "+version+", build 0123456\n")
	}
}

func (f fixture) rootlesskit(version string) fixture {
	// RootlessKit 2.0's proxy hands ports of the implicit driver to docker-proxy; its binary
	// says "implicit", older ones do not (checkChoices).
	proxy := "rootlesskit-docker-proxy " + version
	if !strings.HasPrefix(version, "1.") {
		proxy += " implicit"
	}
	return f.with("/usr/bin/rootlesskit", "/usr/bin/rootlesskit-docker-proxy").file("/usr/bin/rootlesskit-docker-proxy", proxy).
		out("/usr/bin/rootlesskit --version", "tool:rootlesskit-"+version+".version")
}

func (f fixture) slirp4netns(version string) fixture {
	return f.with("/usr/bin/slirp4netns").
		out("/usr/bin/slirp4netns --help", "tool:slirp4netns-"+version+".help").
		out("/usr/bin/slirp4netns --version", "tool:slirp4netns-"+version+".version")
}

func (f fixture) pasta(version string) fixture {
	return f.with("/usr/bin/pasta", "/usr/bin/pesto").out("/usr/bin/pasta --version", "tool:pasta-"+version+".version")
}

// debian12 is our test machine: Debian 12 without systemd, cgroup v1 hybrid, dockerd 20.10 and
// rootlesskit 1.1 from the distribution, slirp4netns 1.2.0 and Debian's old pasta.
func debian12() fixture {
	f := fixture{
		programs: []string{"/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/runc", "/usr/bin/ip",
			"/usr/bin/nsenter", "/usr/sbin/iptables", "/usr/sbin/nft"},
		files: map[string]string{
			"/etc/subuid": "alice:100000:65536\n",
			"/etc/subgid": "alice:100000:65536\n",
			"/etc/passwd": "alice:x:1000:1000::/home/alice:/bin/bash\n",
			"/proc/net/route": "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
				"eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
			"/sys/class/net/eth0/mtu": "1500\n",
			// Debian's pasta prints "unknown version"; dpkg knows it is 2023_03_09.
			"/var/lib/dpkg/info/passt.list": "tool:../dpkg/passt.list",
			"/var/lib/dpkg/status":          "tool:../dpkg/status",
		},
		outputs: map[string]string{},
		sysctls: map[string]string{
			"kernel.osrelease":                    "6.18.0-rootlessd",
			"kernel.version":                      "#1 SMP PREEMPT_DYNAMIC Debian 6.18.0-1",
			"net.ipv4.ping_group_range":           "1\t0",
			"net.ipv4.ip_unprivileged_port_start": "1024",
			"user.max_user_namespaces":            "127436",
		},
		cgroups: "hybrid",
	}
	return f.dockerd("20.10.24+dfsg1").rootlesskit("1.1.0").slirp4netns("1.2.0").pasta("debian-unknown")
}

// trixie is Debian 13 with systemd and delegated cgroup v2: dockerd 26.1, rootlesskit 2.0 and a
// pasta new enough for RootlessKit.
func trixie() fixture {
	f := debian12().without("/usr/bin/pasta", "/usr/bin/pesto").pasta("2025_01_21").rootlesskit("2.0.0").dockerd("26.1.5+dfsg1")
	f.cgroups = "delegated"
	f.sysctls["net.ipv4.ping_group_range"] = "0\t2147483647"
	return f
}

func toolFile(t testing.TB, content string) []byte {
	t.Helper()
	name, ok := strings.CutPrefix(content, "tool:")
	if !ok {
		return []byte(content)
	}
	b, err := os.ReadFile(filepath.Join("..", "netdriver", "testdata", "tools", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runs counts the programs a fixture host ran.
type runs struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *runs) count() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps2(r.n)
}

func maps2(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// host builds the fixture; the programs it runs are counted in the returned runs.
func (f fixture) host(t testing.TB) (*host, *runs) {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, p := range f.programs {
		fsys[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Mode: 0o755}
	}
	for _, p := range f.setuid {
		fsys[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Mode: 0o755 | fs.ModeSetuid}
	}
	for p, c := range f.files {
		mode := fs.FileMode(0o644)
		if p == "/usr/bin/dockerd" || slices.Contains(f.programs, p) {
			mode = 0o755
		}
		fsys[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Data: toolFile(t, c), Mode: mode}
	}
	for k, v := range f.sysctls {
		fsys["proc/sys/"+strings.ReplaceAll(k, ".", "/")] = &fstest.MapFile{Data: []byte(v + "\n")}
	}
	for p := range f.sockets {
		fsys[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Mode: fs.ModeSocket | 0o660}
	}
	outputs := map[string][]byte{}
	for k, v := range f.outputs {
		outputs[k] = toolFile(t, v)
	}
	counted := &runs{n: map[string]int{}}
	n := &netdriver.Host{
		PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		FS:   fsys,
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			key := strings.Join(append([]string{name}, args...), " ")
			counted.mu.Lock()
			counted.n[key]++
			counted.mu.Unlock()
			if out, ok := outputs[key]; ok {
				return out, nil
			}
			return []byte("unrecognised option\n"), errors.New("exit status 1")
		},
		User:          "alice",
		KernelSeccomp: func() bool { return true },
	}
	cgName := cmpOr(f.cgroups, "hybrid")
	cg, err := cgroupdeleg.Fixture(os.DirFS(filepath.Join("..", "cgroupdeleg", "testdata", "hosts", cgName)))
	if err != nil {
		t.Fatal(err)
	}
	uid := f.uid
	if uid == 0 {
		uid = 1000
	}
	dirs := map[string]dirInfo{
		"/": {0, 0o755}, "/run": {0, 0o755}, "/run/user": {0, 0o755}, "/run/user/1000": {1000, 0o700},
		"/tmp": {0, 0o1777}, "/home": {0, 0o755}, "/home/alice": {1000, 0o700},
	}
	maps.Copy(dirs, f.dirs)
	answer := func(key string) ([]byte, error) {
		if a, ok := f.probes[key]; ok {
			return []byte(a.out), a.err
		}
		return nil, nil
	}
	h := &host{uid: uid, gid: 1000, user: "alice", home: "/home/alice", executable: "/home/alice/bin/app",
		initialized: !f.noInit, fs: fsys, net: n, cgroups: cg,
		subids: func(idmap.Source) idmap.Source { return idmap.Files{FS: fsys} },
		helper: func(name string) (idmap.Helper, error) {
			return idmap.Helper{Name: name, Path: "/usr/bin/" + name, Setuid: true}, nil
		},
		namespace: func() (idmap.Namespace, error) { return idmap.Namespace{}, nil },
		statfs:    func(string) (int64, error) { return 0xef53, nil },
		dir: func(p string) (int, fs.FileMode, error) {
			if d, ok := dirs[p]; ok {
				return d.uid, d.mode, nil
			}
			return 0, 0, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
		},
		tun:     func() error { return f.tun },
		selinux: func() bool { return false },
		overlay: func(ctx context.Context, dir string) ([]byte, error) { return answer("overlay") },
		nsRun: func(ctx context.Context, env []string, argv ...string) ([]byte, error) {
			return answer(strings.Join(argv, " "))
		},
		dial: func(p string) error {
			if err, ok := f.sockets[p]; ok {
				return err
			}
			return syscall.ENOENT
		},
		fileID: func(p string) (string, uint64, error) {
			id, ok := f.fileIDs[p]
			if !ok {
				return "", 0, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
			}
			i := strings.LastIndexByte(id, ':')
			n, _ := strconv.ParseUint(id[i+1:], 10, 64)
			return id[:i], n, nil
		},
		openRW: func(p string) error {
			if err, ok := f.devices[p]; ok {
				return err
			}
			return &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	}
	return h, counted
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// resolveOn resolves opts on the fixture host; the environment is empty but for what it sets.
func resolveOn(t testing.TB, f fixture, opts ...Option) (*Plan, error, *runs) {
	t.Helper()
	c, err := newConfig(append([]Option{WithEnviron([]string{"XDG_RUNTIME_DIR=/run/user/1000", "TZ=UTC"})}, opts...))
	if err != nil {
		t.Fatal(err)
	}
	h, r := f.host(t)
	p, err := resolve(context.Background(), c, h)
	return p, err, r
}

// ubuntuRootlessKitProfile is the profile Ubuntu 24.04's apparmor package ships for the
// packaged rootlesskit.
const ubuntuRootlessKitProfile = `# This profile allows everything and only exists to give the
# application a name instead of having the label "unconfined"

abi <abi/4.0>,
include <tunables/global>

profile rootlesskit /usr/bin/rootlesskit flags=(unconfined) {
  userns,

  # Site-specific additions and overrides. See local/README for details.
  include if exists <local/rootlesskit>
}
`
