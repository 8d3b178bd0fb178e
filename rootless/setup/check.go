package setup

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/rootless"
)

// RootfulSocket is where a system-wide Docker listens.
const RootfulSocket = "/var/run/docker.sock"

// Check inspects the host before Install, as dockerd-rootless-setuptool.sh's init does, and
// returns every problem at once (errors.Join): the findings of this package and rootless.Check's
// (all *diag.Finding) for the daemon as the unit will run it: the
// same settings, PATH and runtime directory. Warnings and facts (info) are included: Install
// can go ahead when diag.Blocking of the result is nil.
//
// On top of rootless.Check it reports a rootful Docker whose socket the user can write to
// (unless WithForce), a systemd host whose user manager this session cannot reach (the
// `su`/`sudo` case, with Docker's remedy), and a running containerd-rootless.sh, whose state
// conflicts with the daemon's. With WithSkipIptables it leaves out the iptables problems.
func Check(ctx context.Context, opts ...Option) error {
	h, err := resolveHost(ctx, opts)
	if err != nil {
		return err
	}
	c := h.c
	var errs []error
	if c.user.UID == 0 {
		errs = append(errs, &diag.Finding{ID: IDRoot, Severity: diag.Error, Detail: "refusing to install rootless Docker as the root user",
			Fix: "run as the user who should own the daemon"})
	}
	if !c.force && writable(h.hostPath(RootfulSocket)) {
		errs = append(errs, &diag.Finding{ID: IDRootful, Severity: diag.Error, Evidence: RootfulSocket,
			Detail: "Aborting because rootful Docker (" + RootfulSocket + ") is running and accessible.",
			Fix:    "Set --force (WithForce(true)) to ignore; or stop it: sudo systemctl disable --now docker.service docker.socket"})
	}
	if !h.systemd && h.systemdBooted() {
		rd := c.user.getenv("XDG_RUNTIME_DIR")
		errs = append(errs, &diag.Finding{ID: IDRuntimeDir, Severity: diag.Error, Evidence: "XDG_RUNTIME_DIR=" + rd,
			Detail: fmt.Sprintf("Aborting because systemd was detected but XDG_RUNTIME_DIR (%q) is not set, does not exist, or is not writable", rd),
			Fix: fmt.Sprintf("this could happen if you changed users with 'su' or 'sudo'. To work around this:\n"+
				"- try again by first running with root privileges 'loginctl enable-linger %s' and export XDG_RUNTIME_DIR to the value of RuntimePath as shown by 'loginctl show-user %s'\n"+
				"- or simply log back in as %s (ssh works for remote machines, machinectl shell works for local machines)",
				c.user.Name, c.user.Name, c.user.Name)})
	}
	runtimeDir, _ := h.runtimeDir()
	if crl := filepath.Join(runtimeDir, "containerd-rootless"); h.exists(crl) {
		errs = append(errs, &diag.Finding{ID: IDContainerdRL, Severity: diag.Error, Evidence: crl,
			Detail: "dockerd-rootless conflicts with containerd-rootless.sh",
			Fix:    "Stop containerd-rootless.sh if it's running, and remove " + crl + " if it still exists."})
	}
	if c.root == "/" {
		errs = append(errs, h.daemonCheck(ctx, runtimeDir))
	}
	return errors.Join(errs...)
}

// daemonCheck is rootless.Check for the daemon as the unit or the manual command runs it.
func (h *host) daemonCheck(ctx context.Context, runtimeDir string) error {
	c := h.c
	var extra []string
	if v, ok := lookupEnv(c.settings.Env, rootless.EnvScriptDockerd); ok {
		extra = append(extra, v)
	}
	path, _ := h.daemonPath(extra...)
	env := append([]string{"PATH=" + path, "HOME=" + c.user.Home, "XDG_RUNTIME_DIR=" + runtimeDir}, c.settings.env()...)
	flags := c.settings.DockerdFlags
	if c.skipIptables {
		// What Install adds when iptables is missing; rootless.Check then leaves iptables out.
		flags = append(slices.Clone(flags), "--iptables=false")
	}
	opts := []rootless.Option{
		rootless.WithEnviron(env),
		rootless.WithScriptEnv(env),
		rootless.WithBinaries(rootless.Binaries{Path: filepath.SplitList(path)}),
		rootless.WithDockerdArgs(dockerdOnly(flags)...),
	}
	if h.isDir(runtimeDir) {
		opts = append(opts, rootless.WithStateDir(runtimeDir))
	}
	if v, ok := flagValue(flags, nil, "--data-root"); ok && filepath.IsAbs(v) {
		opts = append(opts, rootless.WithDataRoot(v))
	}
	rep, err := rootless.Check(ctx, opts...)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range rep.Findings {
		// Check reports these in the script's words, as errors (IDRootful, IDContainerdRL).
		if f.ID == rootless.IDRootfulDaemon || f.ID == rootless.IDContainerdRootless {
			continue
		}
		errs = append(errs, f)
	}
	return errors.Join(errs...)
}

// dockerdOnly drops the flags the launcher turns into rootless options of their own.
func dockerdOnly(flags []string) []string {
	var out []string
	for i := 0; i < len(flags); i++ {
		name, _, hasVal := strings.Cut(flags[i], "=")
		switch name {
		case "--data-root", "--exec-root", "--pidfile", "-p", "--config-file":
			if !hasVal {
				i++
			}
			continue
		}
		out = append(out, flags[i])
	}
	return out
}
