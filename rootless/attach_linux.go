//go:build linux

package rootless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/portdriver"
)

// Attach finds the detached daemon (WithDetach) that runs for the state directory the options
// name (WithStateDir; the other options that matter here are WithLogger, WithDaemonOutput and
// WithStopTimeout), checks that it is alive and answers, through the Docker API and
// RootlessKit's API socket, and returns a *Daemon for it. Info, Client, Ports, Command, Env,
// Shutdown, Done and Err work as for the Daemon Launch returned; Done closes when the daemon
// exits, whoever stops it (a pidfd), and Err is then an *ExitError with the log's last lines
// (its exit status is unknown: Code is -1). Close lets go of it without stopping it; Shutdown
// stops it and leaves nothing behind. After Close, Done and Err still report the daemon's
// exit while this process lives. Any number of processes may attach at once. A daemon still
// starting (Launch records it as soon as its tree runs, so that one whose launcher was killed
// during start-up is not lost) is waited for until it answers, bounded by ctx and two minutes.
//
// It returns an error wrapping ErrNotRunning when no daemon runs there: no record, or the
// record of a daemon that has exited, even if its pid now belongs to another process (the
// process's start time and the boot differ from the record's).
func Attach(ctx context.Context, opts ...Option) (*Daemon, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	getenv := envLookup(c.environ)
	h := localHost(daemonPath(c.bins.Path, getenv("PATH")))
	paths, err := resolveLayout(c, getenv, h)
	if err != nil {
		return nil, err
	}
	rec, err := readRecord(paths.StateDir)
	if err != nil {
		return nil, err
	}
	info, err := rec.info()
	if err != nil {
		return nil, fmt.Errorf("rootless: %s: %w", filepath.Join(paths.StateDir, recordFile), err)
	}
	notRunning := func(why string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrNotRunning, paths.StateDir, fmt.Sprintf(why, args...))
	}
	if boot, err := engine.BootID(); err != nil || boot != rec.BootID {
		return nil, notRunning("the recorded daemon ran before the last boot")
	}
	log := filepath.Join(paths.StateDir, daemonLogFile)
	sink := newLogSink(c.output, c.logger)
	proc, err := engine.Adopt(rec.PID, rec.StartTime, log, sink)
	if err != nil {
		return nil, notRunning("the recorded daemon (pid %d) has exited: %v", rec.PID, err)
	}
	if !lockedByOther(filepath.Join(paths.StateDir, lockFile)) {
		proc.Abandon()
		return nil, notRunning("process %d runs, but nothing holds %s: it is not the daemon", rec.PID, lockFile)
	}
	d := newAttached(info, proc, sink, c)
	if d.ports, err = portdriver.NewManager(filepath.Join(info.Paths.RootlessKitStateDir, engine.StateAPISock), // the launcher's
		portdriver.WithHost(h.net), portdriver.WithBinder(rec.Binder)); err != nil {
		proc.Abandon()
		return nil, err
	}
	if err := d.check(ctx); err != nil {
		d.ports.Close()
		proc.Abandon()
		return nil, err
	}
	go d.supervise()
	c.logger.LogAttrs(ctx, slog.LevelInfo, "attached to daemon", slog.String("host", d.Host()), slog.Int("pid", rec.PID))
	return d, nil
}

// attachWait bounds how long Attach waits for a daemon that is still starting.
const attachWait = 2 * time.Minute

// check asks RootlessKit's API and the Docker API whether the attached daemon works. A daemon
// still starting (its launcher records it at once) is waited for, until it answers, exits, or
// ctx or attachWait ends.
func (d *Daemon) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, attachWait)
	defer cancel()
	cli, err := d.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	var rkErr, apiErr error
	err = poll(ctx, d.tree(), func() (bool, error) {
		if _, rkErr = d.ports.Info(ctx); rkErr != nil {
			return false, nil
		}
		_, apiErr = cli.Ping(ctx)
		return apiErr == nil, nil
	})
	switch {
	case errors.Is(err, errExited):
		return fmt.Errorf("%w: %s: the daemon exited while Attach waited for it to answer", ErrNotRunning, d.info.Paths.StateDir)
	case err != nil && rkErr != nil:
		return fmt.Errorf("rootless: attach: RootlessKit's API (%s) does not answer: %w (%w)", filepath.Join(d.info.Paths.RootlessKitStateDir, engine.StateAPISock), rkErr, err)
	case err != nil:
		return fmt.Errorf("rootless: attach: the Docker API (%s) does not answer: %w (%w)", d.info.Paths.Socket, apiErr, err)
	}
	di, err := cli.Info(ctx)
	if err != nil {
		return fmt.Errorf("rootless: attach: the Docker API (%s) does not answer: %w", d.info.Paths.Socket, err)
	}
	if !slices.Contains(di.SecurityOptions, "name=rootless") {
		return fmt.Errorf("rootless: attach: the daemon on %s does not report rootless mode (security options %v)", d.info.Paths.Socket, di.SecurityOptions)
	}
	d.info.ServerVersion, d.info.StorageDriver, d.info.CgroupDriver = di.ServerVersion, di.Driver, di.CgroupDriver
	if d.info.ChildPID == 0 { // recorded during start-up: RootlessKit has written it since
		b, err := os.ReadFile(filepath.Join(d.info.Paths.RootlessKitStateDir, engine.StateChildPID))
		if err != nil {
			return fmt.Errorf("rootless: attach: %w", err)
		}
		d.info.ChildPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return nil
}

// readRecord reads STATEDIR/rootlessd.json.
func readRecord(stateDir string) (*daemonRecord, error) {
	path := filepath.Join(stateDir, recordFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if lockedByOther(filepath.Join(stateDir, lockFile)) {
			return nil, fmt.Errorf("%w: %s: a daemon holds the directory but has no record: it was not launched WithDetach, or is still starting", ErrNotRunning, stateDir)
		}
		return nil, fmt.Errorf("%w: %s: no daemon has been launched there WithDetach", ErrNotRunning, stateDir)
	}
	if err != nil {
		return nil, fmt.Errorf("rootless: attach: %w", err)
	}
	var r daemonRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("rootless: attach: %s is not a daemon record (%v); remove it if no daemon runs there", path, err)
	}
	if r.Version != recordVersion || r.PID <= 0 {
		return nil, fmt.Errorf("rootless: attach: %s: record version %d with pid %d, want version %d: written by another rootlessd version", path, r.Version, r.PID, recordVersion)
	}
	return &r, nil
}

// info rebuilds the Info the launching process had.
func (r *daemonRecord) info() (*Info, error) {
	p, err := decodePlan(r.Plan)
	if err != nil {
		return nil, err
	}
	return &Info{Plan: *p, FellBack: r.FellBack, ChildPID: r.ChildPID, ServerVersion: r.ServerVersion,
		StorageDriver: r.StorageDriver, CgroupDriver: r.CgroupDriver}, nil
}
