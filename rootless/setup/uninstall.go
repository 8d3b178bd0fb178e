package setup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
)

// Uninstall returns the plan that undoes Install, as dockerd-rootless-setuptool.sh uninstall
// does, and what that script leaves out:
//
//   - with systemd: `systemctl --user stop` and `disable` (their failures are reported, not
//     fatal), the removal of the unit and of every drop-in in its .d directory, then
//     `daemon-reload` and `reset-failed`;
//   - without systemd: the same files are removed if they exist, and a daemon that still
//     answers on the socket is reported, since only the user can stop it;
//   - the CLI context is removed, and if it was the current one, "default" becomes current;
//   - with WithRemoveData(true), the data root is removed with rootless.RemoveAll (after the
//     daemon stopped); otherwise the data stays and the notes say how to remove it.
//
// It needs none of the daemon's prerequisites: it works without a subordinate id range and
// without dockerd. The daemon's socket and data root are found from the installed drop-in
// (-H unix:// and --data-root in the dockerd flags), else from WithSettings, else they are
// rootless's defaults.
func Uninstall(ctx context.Context, opts ...Option) (*Plan, error) {
	h, err := resolveHost(ctx, opts)
	if err != nil {
		return nil, err
	}
	c := h.c
	p := &Plan{env: h.applyEnv()}
	unitName := c.unit
	unitExists := h.exists(h.unitPath())

	var dropIns []string
	if entries, err := os.ReadDir(h.hostPath(h.dropInDir())); err == nil {
		for _, e := range entries {
			path := filepath.Join(h.dropInDir(), e.Name())
			dropIns = append(dropIns, path)
			if data, _, _ := h.read(path); strings.HasSuffix(e.Name(), ".conf") {
				if _, err := parseUnit(data); err != nil {
					p.Notes = append(p.Notes, Note{diag.Warning, fmt.Sprintf("%s cannot be parsed (%v); it is removed anyway", path, err)})
				}
			}
		}
	}
	flags := h.installedFlags()
	runtimeDir, _ := h.runtimeDir()
	socket := socketIn(flags, runtimeDir)

	if unitExists || len(dropIns) > 0 {
		if h.systemd {
			p.Actions = append(p.Actions,
				&Command{Argv: h.systemctl("stop", unitName), MayFail: true},
				&Command{Argv: h.systemctl("disable", unitName), MayFail: true})
		}
		for _, d := range dropIns {
			p.Actions = append(p.Actions, &RemoveFile{Path: d})
		}
		if h.isDir(h.dropInDir()) {
			p.Actions = append(p.Actions, &RemoveFile{Path: h.dropInDir()})
		}
		if unitExists {
			p.Actions = append(p.Actions, &RemoveFile{Path: h.unitPath()})
		}
		if h.systemd {
			p.Actions = append(p.Actions,
				&Command{Argv: h.systemctl("daemon-reload")},
				&Command{Argv: h.systemctl("reset-failed", unitName), MayFail: true})
		} else if h.systemdBooted() {
			p.Notes = append(p.Notes, Note{diag.Warning, "the user's systemd manager is not reachable from this session: once it is, run `systemctl --user daemon-reload`"})
		}
		p.Notes = append(p.Notes, Note{diag.Info, "Uninstalled " + unitName})
	} else {
		p.Notes = append(p.Notes, Note{diag.Info, unitName + " is not installed (no " + h.unitPath() + ")"})
	}
	if !h.systemd && pingSocket(ctx, h.hostPath(socket)) == nil {
		p.Notes = append(p.Notes, Note{diag.Warning, "systemd not detected: the daemon that answers on " + socket + " needs to be stopped by hand (SIGTERM to its launcher)"})
	}

	dc := h.dockerConfig()
	_, _, ok, err := existingContext(h.hostPath(dc), c.context)
	if err != nil {
		p.Notes = append(p.Notes, Note{diag.Warning, fmt.Sprintf("docker context %s: %v; it is removed anyway", c.context, err)})
		ok = true
	}
	if ok {
		p.Actions = append(p.Actions, &RemoveContext{DockerConfig: dc, Name: c.context})
		p.Notes = append(p.Notes, Note{diag.Info, fmt.Sprintf("Deleted CLI context %q", c.context)})
	}
	if cfg, err := readCLIConfig(h.hostPath(filepath.Join(dc, "config.json"))); err == nil && cfg.currentContext() == c.context {
		p.Actions = append(p.Actions, &UseContext{DockerConfig: dc, Name: "default"})
		p.Notes = append(p.Notes, Note{diag.Info, `Configured CLI to use the "default" context.`})
	}
	p.Notes = append(p.Notes, Note{diag.Info, "Make sure to unset or update the environment PATH, DOCKER_HOST, and DOCKER_CONTEXT environment variables if you have added them to `~/.bashrc`."})

	dataRoot := h.dataRootIn(flags)
	if c.removeData {
		p.Actions = append(p.Actions, &RemoveData{Path: dataRoot, Socket: socket})
	} else {
		p.Notes = append(p.Notes, Note{diag.Info, "This uninstallation tool does NOT remove Docker binaries and data."},
			Note{diag.Info, fmt.Sprintf("To remove data, run: `setuptool rm %s` (rootless.RemoveAll; the same as `rootlesskit rm -rf %s`)", dataRoot, dataRoot)})
	}
	return p, nil
}

// RemoveDataRoot returns the plan that removes a daemon's data root with rootless.RemoveAll:
// path, or, when path is "", the data root of the installed unit (--data-root in its drop-in,
// else rootless's default). Applying it refuses while a daemon answers on the unit's socket.
func RemoveDataRoot(ctx context.Context, path string, opts ...Option) (*Plan, error) {
	h, err := resolveHost(ctx, opts)
	if err != nil {
		return nil, err
	}
	flags := h.installedFlags()
	if path == "" {
		path = h.dataRootIn(flags)
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("%w: RemoveDataRoot(%q): not an absolute path", ErrInvalidOption, path)
	}
	runtimeDir, _ := h.runtimeDir()
	p := &Plan{env: h.applyEnv(), Actions: []Action{&RemoveData{Path: filepath.Clean(path), Socket: socketIn(flags, runtimeDir)}}}
	return p, nil
}

// installedFlags are the dockerd flags of the installed drop-ins, else those of WithSettings
// (without systemd there is no drop-in to read them from).
func (h *host) installedFlags() []string {
	flags := h.c.settings.DockerdFlags
	entries, _ := os.ReadDir(h.hostPath(h.dropInDir()))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		data, _, _ := h.read(filepath.Join(h.dropInDir(), e.Name()))
		if opts, err := parseUnit(data); err == nil {
			if v, ok := lookupEnv(unitEnv(opts), EnvDockerdFlags); ok {
				flags = strings.Fields(v)
			}
		}
	}
	return flags
}
