package setup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// host is what a plan is built from: the options and what was found on the file tree.
type host struct {
	c       *config
	systemd bool
}

// hostPath is p inside the configured root.
func (h *host) hostPath(p string) string { return filepath.Join(h.c.root, p) }

func (h *host) exists(p string) bool {
	_, err := os.Lstat(h.hostPath(p))
	return err == nil
}

func (h *host) isDir(p string) bool {
	st, err := os.Stat(h.hostPath(p))
	return err == nil && st.IsDir()
}

func (h *host) read(p string) ([]byte, bool, error) {
	b, err := os.ReadFile(h.hostPath(p))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// executable reports whether p is a regular file with an execute bit.
func (h *host) executable(p string) bool {
	st, err := os.Stat(h.hostPath(p))
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

func (h *host) applyEnv() *applyEnv {
	return &applyEnv{root: h.c.root, runner: h.c.runner, user: *h.c.user}
}

// resolveHost applies the options and detects systemd: WithSystemd, else Docker's test,
// `systemctl --user show-environment` succeeding.
func resolveHost(ctx context.Context, opts []Option) (*host, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	h := &host{c: c}
	if c.systemd != nil {
		h.systemd = *c.systemd
		return h, nil
	}
	_, err = c.runner.Run(ctx, h.systemctl("show-environment"))
	h.systemd = err == nil
	return h, ctx.Err()
}

// systemctl is a `systemctl --user` command line.
func (h *host) systemctl(args ...string) []string {
	return append([]string{"systemctl", "--user"}, args...)
}

// systemdBooted reports whether the machine runs systemd as init, even when this session
// cannot reach the user's manager.
func (h *host) systemdBooted() bool { return h.isDir("/run/systemd/system") }

func (h *host) configHome() string { return h.c.user.xdg("XDG_CONFIG_HOME", ".config") }
func (h *host) unitDir() string    { return filepath.Join(h.configHome(), "systemd", "user") }
func (h *host) unitPath() string   { return filepath.Join(h.unitDir(), h.c.unit) }
func (h *host) dropInDir() string  { return h.unitPath() + ".d" }
func (h *host) dropInPath() string { return filepath.Join(h.dropInDir(), DropIn) }

// dockerConfig is the docker CLI's configuration directory: $DOCKER_CONFIG, else ~/.docker.
func (h *host) dockerConfig() string {
	if v := h.c.user.getenv("DOCKER_CONFIG"); filepath.IsAbs(v) {
		return filepath.Clean(v)
	}
	return filepath.Join(h.c.user.Home, ".docker")
}

// systemdRuntimeDir is the XDG_RUNTIME_DIR that the user's systemd manager gives its services.
func (h *host) systemdRuntimeDir() string {
	return filepath.Join("/run/user", strconv.Itoa(h.c.user.UID))
}

// runtimeDir is the daemon's XDG_RUNTIME_DIR. With systemd it is the manager's. Without, it is
// the session's, else /run/user/UID if it exists, else ~/.docker/run, which Docker's tool
// creates too (created reports that case).
func (h *host) runtimeDir() (dir string, created bool) {
	if h.systemd {
		return h.systemdRuntimeDir(), false
	}
	if v := h.c.user.getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(v) {
		return filepath.Clean(v), false
	}
	if d := h.systemdRuntimeDir(); h.isDir(d) {
		return d, false
	}
	d := filepath.Join(h.c.user.Home, ".docker", "run")
	return d, !h.isDir(d)
}

// flagValue returns the value of the first of names in args, in the forms the launcher reads:
// --name=value and --name value.
func flagValue(args []string, match func(name, value string) bool, names ...string) (string, bool) {
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		if !slices.Contains(names, name) {
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return "", false
			}
			i++
			val = args[i]
		}
		if match == nil || match(name, val) {
			return val, true
		}
	}
	return "", false
}

// socketIn returns the daemon's socket for dockerd flags: the first unix -H, which the
// launcher makes its socket, else RUNTIMEDIR/docker.sock.
func socketIn(flags []string, runtimeDir string) string {
	v, ok := flagValue(flags, func(_, v string) bool { return strings.HasPrefix(v, "unix://") }, "-H", "--host")
	if ok {
		return strings.TrimPrefix(v, "unix://")
	}
	return filepath.Join(runtimeDir, "docker.sock")
}

// dataRootIn returns the daemon's data root for dockerd flags: --data-root, else rootless's
// default, $XDG_DATA_HOME/docker or ~/.local/share/docker.
func (h *host) dataRootIn(flags []string) string {
	if v, ok := flagValue(flags, nil, "--data-root"); ok && filepath.IsAbs(v) {
		return filepath.Clean(v)
	}
	return filepath.Join(h.c.user.xdg("XDG_DATA_HOME", filepath.Join(".local", "share")), "docker")
}

// programs are what the daemon runs by name: their directories make the unit's PATH.
var programs = []string{
	"dockerd", "containerd", "containerd-shim-runc-v2", "runc", "docker-init", "docker-proxy",
	"rootlesskit", "rootlesskit-docker-proxy", "slirp4netns", "pasta", "vpnkit", "fuse-overlayfs",
	"iptables", "ip6tables", "nft", "nsenter", "newuidmap", "newgidmap",
}

// searchDirs is where programs are looked up: WithSearchPath, the user's PATH, the system
// directories.
func (h *host) searchDirs() []string {
	var dirs []string
	add := func(d string) {
		if filepath.IsAbs(d) && !slices.Contains(dirs, filepath.Clean(d)) {
			dirs = append(dirs, filepath.Clean(d))
		}
	}
	for _, d := range h.c.searchPath {
		add(d)
	}
	for _, d := range filepath.SplitList(h.c.user.getenv("PATH")) {
		add(d)
	}
	for _, d := range filepath.SplitList(SystemPath) {
		add(d)
	}
	return dirs
}

// lookPath finds name in dirs.
func (h *host) lookPath(name string, dirs []string) (string, bool) {
	for _, d := range dirs {
		if p := filepath.Join(d, name); h.executable(p) {
			return p, true
		}
	}
	return "", false
}

// daemonPath is the unit's PATH: the search directories in which one of the programs was
// found, in search order, then the system directories. Every program resolves through it to
// the same file as through the full search path, and nothing else of the installing shell's
// PATH gets in. found maps each program found to its path.
func (h *host) daemonPath(extra ...string) (path string, found map[string]string) {
	dirs := h.searchDirs()
	found = map[string]string{}
	used := map[string]bool{}
	for _, name := range programs {
		if p, ok := h.lookPath(name, dirs); ok {
			found[name] = p
			used[filepath.Dir(p)] = true
		}
	}
	for _, p := range extra {
		used[filepath.Dir(p)] = true
	}
	var out []string
	for _, d := range dirs {
		if used[d] {
			out = append(out, d)
		}
	}
	for _, p := range extra {
		if d := filepath.Dir(p); !slices.Contains(out, d) {
			out = append([]string{d}, out...)
		}
	}
	for _, d := range filepath.SplitList(SystemPath) {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return strings.Join(out, ":"), found
}

// userUnitDirs are where systemd looks for user units (systemd.unit(5)), for dbus.socket.
func (h *host) userUnitDirs() []string {
	return []string{h.unitDir(), "/etc/systemd/user", "/usr/local/lib/systemd/user", "/usr/lib/systemd/user", "/lib/systemd/user"}
}

func (h *host) hasUserUnit(name string) bool {
	for _, d := range h.userUnitDirs() {
		if h.exists(filepath.Join(d, name)) {
			return true
		}
	}
	return false
}

// lingerPath is the file whose presence means the user's manager runs without a session.
func (h *host) lingerPath() string { return filepath.Join("/var/lib/systemd/linger", h.c.user.Name) }
