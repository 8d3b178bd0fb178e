package setup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/rootless"
)

// Finding ids of this package.
const (
	IDLauncher      diag.ID = "setup.launcher"
	IDDockerd       diag.ID = "setup.dockerd-missing"
	IDRoot          diag.ID = "setup.root"
	IDRootful       diag.ID = "setup.rootful-docker"
	IDRuntimeDir    diag.ID = "setup.xdg-runtime-dir"
	IDContainerdRL  diag.ID = "setup.containerd-rootless"
	IDUnitParse     diag.ID = "setup.unit-unparsable"
	IDOverride      diag.ID = "setup.override"
	IDDockerHostSet diag.ID = "setup.docker-host-set"
)

// StartTimeout bounds how long Apply waits for `systemctl --user start` (or restart), which
// returns once the launcher reported READY=1, that is once the API answers. The unit itself
// keeps Docker's TimeoutSec=0, so that a slow first start (a large data root) is not killed.
const StartTimeout = 10 * time.Minute

// ContextDescription is the description of the CLI context, as Docker's tool writes it.
const ContextDescription = "Rootless mode"

// Install returns the plan that sets the daemon up for the user, as dockerd-rootless-setuptool.sh
// install does, without doing anything yet:
//
//   - with systemd: the user unit (WithUnit, default docker.service) that runs the launcher
//     (WithLauncher), its drop-in with the settings (WithSettings), `systemctl --user
//     daemon-reload`, `enable` and `start` (`restart` when a file changed), and a check that
//     the API answers on the socket; the notes say whether linger is on, and give the exact
//     `sudo loginctl enable-linger` line when it is not;
//   - without systemd: no unit; Plan.Manual is the command line that runs the daemon by hand,
//     and Plan.Env what to export;
//   - in both cases: the docker CLI context (WithContext, default rootless) for the daemon's
//     socket, made the current one.
//
// Files and a context that exist and differ are reported in Plan.Drift with a diff, and replaced
// only with WithUpdate(true). Files that exist and match are left alone. Install reads the file
// tree and runs `systemctl --user show-environment` (unless WithSystemd); it changes nothing.
// Run Check first: Install does not inspect the host's prerequisites.
func Install(ctx context.Context, opts ...Option) (*Plan, error) {
	h, err := resolveHost(ctx, opts)
	if err != nil {
		return nil, err
	}
	c := h.c
	if c.user.UID == 0 {
		return nil, &diag.Finding{ID: IDRoot, Severity: diag.Error, Detail: "refusing to install rootless Docker as the root user",
			Fix: "run the installer as the user who should own the daemon"}
	}
	if c.launcher == "" {
		return nil, &diag.Finding{ID: IDLauncher, Severity: diag.Error, Detail: "no launcher: Install needs the program the unit runs",
			Fix: "pass WithLauncher with the absolute path of a program built on rootless, such as examples/launcher"}
	}
	if !h.executable(c.launcher) {
		return nil, &diag.Finding{ID: IDLauncher, Severity: diag.Error, Evidence: c.launcher,
			Detail: c.launcher + " is not an executable file", Fix: "build it (go build -o DIR ./examples/launcher) and pass its path"}
	}
	p := &Plan{Update: c.update, env: h.applyEnv()}

	s := c.settings
	var extra []string
	if v, ok := lookupEnv(s.Env, rootless.EnvScriptDockerd); ok {
		if !filepath.IsAbs(v) || !h.executable(v) {
			return nil, &diag.Finding{ID: IDDockerd, Severity: diag.Error, Evidence: v,
				Detail: "DOCKERD=" + v + " is not an executable file", Fix: "point DOCKERD at dockerd by its absolute path"}
		}
		extra = append(extra, v)
	}
	path, found := h.daemonPath(extra...)
	if _, ok := found["dockerd"]; !ok && len(extra) == 0 {
		return nil, &diag.Finding{ID: IDDockerd, Severity: diag.Error, Evidence: strings.Join(h.searchDirs(), ":"),
			Detail: "dockerd not found in " + strings.Join(h.searchDirs(), ":"),
			Fix:    "install Docker Engine (Debian: apt-get install docker.io), or name its directory with WithSearchPath (setuptool --path)"}
	}
	if c.skipIptables && found["iptables"] == "" && !slices.ContainsFunc(s.DockerdFlags, func(f string) bool { return strings.HasPrefix(f, "--iptables") }) {
		s.DockerdFlags = append(slices.Clone(s.DockerdFlags), "--iptables=false")
		p.Notes = append(p.Notes, Note{diag.Warning, "iptables not found: dockerd runs with --iptables=false (--skip-iptables)"})
	}
	runtimeDir, created := h.runtimeDir()
	socket := socketIn(s.DockerdFlags, runtimeDir)
	settingsEnv := s.env()

	if h.systemd {
		if err := h.planUnits(p, path, settingsEnv, socket); err != nil {
			return nil, err
		}
	} else {
		if created {
			p.Actions = append(p.Actions, &MakeDir{Path: runtimeDir, Mode: 0o700})
			p.Notes = append(p.Notes, Note{diag.Warning, "systemd not found: XDG_RUNTIME_DIR is " + runtimeDir +
				", which you have to remove by hand on every logout"})
		}
		argv := append([]string{c.launcher}, s.DockerdFlags...)
		env := append([]string{"XDG_RUNTIME_DIR=" + runtimeDir, "PATH=" + path}, withoutKey(settingsEnv, EnvDockerdFlags)...)
		p.Manual = &Manual{Env: env, Argv: argv}
		p.Notes = append(p.Notes, Note{diag.Info, "systemd not detected, the daemon needs to be started manually (the command follows; it stays in the foreground, and SIGINT or SIGTERM stops it):"})
		if h.systemdBooted() {
			p.Notes = append(p.Notes, Note{diag.Warning, "this machine runs systemd, but this session cannot reach the user's manager; see Check"})
		}
	}
	if err := h.planContext(p, "unix://"+socket); err != nil {
		return nil, err
	}

	p.Env = h.exports(socket, runtimeDir, created, found)
	for _, k := range []string{"DOCKER_HOST", "DOCKER_CONTEXT"} {
		if v := c.user.getenv(k); v != "" {
			p.Notes = append(p.Notes, Note{diag.Warning, fmt.Sprintf("%s=%s is set in this session; it wins over the current CLI context: unset it, or set it to the value below", k, v)})
		}
	}
	return p, nil
}

// planUnits adds the unit, its drop-in and the systemctl commands to p.
func (h *host) planUnits(p *Plan, path string, settingsEnv []string, socket string) error {
	c := h.c
	unitData := renderUnit(unitHeaderFor(c.unit), serviceUnit(c.launcher, path, h.hasUserUnit("dbus.socket")), "Service")
	dropData := renderUnit(dropInHeaderFor(c.unit), dropInUnit(settingsEnv), "Service")
	changed := false
	for _, f := range []struct {
		path string
		data []byte
	}{{h.unitPath(), unitData}, {h.dropInPath(), dropData}} {
		w, err := h.planFile(p, f.path, f.data)
		if err != nil {
			return err
		}
		changed = changed || w
	}
	h.noteOverrides(p, settingsEnv)

	unitName := c.unit
	hint := fmt.Sprintf("see why: journalctl -n 20 --no-pager --user --unit %s; before retrying, you may need to uninstall first (setuptool uninstall)", unitName)
	if changed {
		p.Actions = append(p.Actions, &Command{Argv: h.systemctl("daemon-reload")})
	}
	p.Actions = append(p.Actions, &Command{Argv: h.systemctl("enable", unitName)})
	verb := "start"
	if changed {
		verb = "restart" // starts a stopped service; a running one picks up the new files
	}
	p.Actions = append(p.Actions, &Command{Argv: h.systemctl(verb, unitName), Hint: hint, Timeout: StartTimeout})
	p.Actions = append(p.Actions, &PingAPI{Socket: socket, Hint: hint})

	p.Notes = append(p.Notes, Note{diag.Info, fmt.Sprintf("To control %s, run: `systemctl --user (start|stop|restart) %s`", unitName, unitName)})
	if h.exists(h.lingerPath()) {
		p.Notes = append(p.Notes, Note{diag.Info, fmt.Sprintf("Linger is enabled for %s (%s): %s starts at boot", c.user.Name, h.lingerPath(), unitName)})
	} else {
		p.Notes = append(p.Notes, Note{diag.Warning, fmt.Sprintf("Linger is off for %s (no %s): %s starts only when you log in. To run it on system startup, run: `sudo loginctl enable-linger %s`",
			c.user.Name, h.lingerPath(), unitName, c.user.Name)})
	}
	return nil
}

// planFile adds the write of path to p unless it already has the same options; a file that
// differs is drift, written only with WithUpdate. It reports whether the file will be written.
func (h *host) planFile(p *Plan, path string, want []byte) (bool, error) {
	have, ok, err := h.read(path)
	if err != nil {
		return false, err
	}
	if ok {
		same, perr := sameUnit(have, want)
		if perr == nil && same {
			p.Notes = append(p.Notes, Note{diag.Info, path + " is up to date"})
			return false, nil
		}
		p.Drift = append(p.Drift, Drift{Path: path, Diff: unifiedDiff(path+" (installed)", path+" (wanted)", string(have), string(want))})
		if perr != nil {
			p.Notes = append(p.Notes, Note{diag.Warning, fmt.Sprintf("%s cannot be parsed (%v)", path, perr)})
		}
		if !h.c.update {
			return false, nil
		}
	}
	p.Actions = append(p.Actions, &WriteFile{Path: path, Mode: 0o644, Data: want})
	return true, nil
}

// noteOverrides warns about the user's other drop-ins that win over the installer's settings.
func (h *host) noteOverrides(p *Plan, ours []string) {
	entries, err := os.ReadDir(h.hostPath(h.dropInDir()))
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() == DropIn || !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		path := filepath.Join(h.dropInDir(), e.Name())
		data, _, err := h.read(path)
		if err != nil {
			continue
		}
		opts, err := parseUnit(data)
		if err != nil {
			p.Notes = append(p.Notes, Note{diag.Warning, fmt.Sprintf("%s cannot be parsed (%v)", path, err)})
			continue
		}
		later := e.Name() > DropIn
		for _, o := range opts {
			if o.Section == "Service" && (o.Name == "ExecStart" || o.Name == "Environment" && o.Value == "") {
				p.Notes = append(p.Notes, Note{diag.Warning, fmt.Sprintf("%s sets %s=%s, which changes how the installed unit runs", path, o.Name, o.Value)})
			}
		}
		if !later {
			continue
		}
		for _, kv := range unitEnv(opts) {
			k, _, _ := strings.Cut(kv, "=")
			if _, mine := lookupEnv(ours, k); mine || k == "PATH" {
				p.Notes = append(p.Notes, Note{diag.Warning, fmt.Sprintf("%s sets %s, which wins over the installer's value", path, kv)})
			}
		}
	}
}

// planContext adds the CLI context for host, made current, to p.
func (h *host) planContext(p *Plan, host string) error {
	c := h.c
	dc := h.dockerConfig()
	have, metaPath, ok, err := existingContext(h.hostPath(dc), c.context)
	if err != nil {
		return fmt.Errorf("setup: docker context %s: %w", c.context, err)
	}
	metaPath = strings.TrimPrefix(metaPath, strings.TrimSuffix(c.root, "/"))
	want := contextMetadata(c.context, host, ContextDescription)
	switch {
	case !ok:
		p.Actions = append(p.Actions, &CreateContext{DockerConfig: dc, Name: c.context, Host: host, Description: ContextDescription})
	case contextHost(have) == host:
		p.Notes = append(p.Notes, Note{diag.Info, fmt.Sprintf("CLI context %q already exists", c.context)})
	default:
		haveJSON, _, _ := h.read(metaPath)
		p.Drift = append(p.Drift, Drift{Path: metaPath, Diff: unifiedDiff(metaPath+" (installed)", metaPath+" (wanted)",
			string(bytes.TrimSpace(haveJSON))+"\n", string(contextJSON(want))+"\n")})
		if c.update {
			p.Actions = append(p.Actions, &CreateContext{DockerConfig: dc, Name: c.context, Host: host, Description: ContextDescription})
		}
	}
	cfg, err := readCLIConfig(h.hostPath(filepath.Join(dc, "config.json")))
	if err != nil {
		return err
	}
	if cfg.currentContext() != c.context {
		p.Actions = append(p.Actions, &UseContext{DockerConfig: dc, Name: c.context})
	}
	return nil
}

// exports is what the user should export: XDG_RUNTIME_DIR when it was made up, PATH when the
// launcher or the docker CLI are outside the user's PATH, and DOCKER_HOST.
func (h *host) exports(socket, runtimeDir string, created bool, found map[string]string) []string {
	var env []string
	if created {
		env = append(env, "XDG_RUNTIME_DIR="+runtimeDir)
	}
	userPath := filepath.SplitList(h.c.user.getenv("PATH"))
	var dirs []string
	for _, d := range []string{filepath.Dir(h.c.launcher)} {
		if !slices.Contains(userPath, d) && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	if _, ok := h.lookPath("docker", userPath); !ok {
		if p, ok := h.lookPath("docker", h.searchDirs()); ok && !slices.Contains(dirs, filepath.Dir(p)) {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	if len(dirs) > 0 {
		env = append(env, "PATH="+strings.Join(dirs, ":")+":$PATH")
	}
	return append(env, "DOCKER_HOST=unix://"+socket)
}

func withoutKey(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// IDs lists the IDs of the findings this package reports.
func IDs() []diag.ID {
	return []diag.ID{IDLauncher, IDDockerd, IDRoot, IDRootful, IDRuntimeDir, IDContainerdRL, IDUnitParse,
		IDOverride, IDDockerHostSet, IDNotRunning}
}
