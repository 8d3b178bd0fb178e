//go:build linux

package rootless

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/engine"
)

// startupGrace bounds the SIGTERM of a launch that is rolled back.
const startupGrace = 3 * time.Second

// Launch starts a rootless Docker daemon and returns once its API answers: it is [Resolve]
// followed by [Plan.Launch].
//
// ctx bounds startup only: cancelling it later does not stop the daemon, which runs until
// Shutdown or Close, or until this process exits (even by SIGKILL: the whole process tree dies
// with it). On error, everything Launch started has been stopped and removed again, the
// returned *Daemon is nil, and the error is one of: the joined option errors (ErrInvalidOption),
// the joined error-level findings ([*diag.Finding]) of what the host lacks (ErrNoInit among
// them when Init was not called), ErrAlreadyRunning, or a *StartError naming the stage that
// failed, with the daemon's last log lines and, for known failures, the cause and its fix.
//
// The program must call Init at the top of main.
func Launch(ctx context.Context, opts ...Option) (*Daemon, error) {
	start := time.Now()
	if engine.StartedAsRole() {
		// The engine re-ran this executable, and main reached Launch: Init is missing or late.
		return nil, fmt.Errorf("%w: this process is rootlessd's engine helper, so main must call rootless.Init before anything else", ErrNoInit)
	}
	p, err := Resolve(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return p.launch(ctx, start)
}

// Launch starts the daemon p describes and returns once its API answers. It decides nothing
// anew, with one exception: with EngineAuto, an embedded engine that is denied a user namespace
// (AppArmor) is replaced by the installed rootlesskit of p.Fallback, for which the options are
// resolved again with the external engine (Info.FellBack says so). ctx bounds startup only; on
// error everything started has been stopped and removed. See [Launch] for the errors.
func (p *Plan) Launch(ctx context.Context) (*Daemon, error) {
	if p == nil || p.c == nil {
		return nil, errors.New("rootless: Plan.Launch: the plan was not made by Resolve")
	}
	return p.launch(ctx, time.Now())
}

func (p *Plan) launch(ctx context.Context, start time.Time) (*Daemon, error) {
	l := &launcher{c: p.c, start: start, log: p.c.logger}
	return l.launch(ctx, p)
}

// launcher carries one Launch call's state and its undo stack.
type launcher struct {
	c     *config
	start time.Time
	log   *slog.Logger
	undo  []func() error
	locks []*os.File
}

func (l *launcher) stage(s Stage) {
	l.log.LogAttrs(context.Background(), slog.LevelDebug, "launch stage", slog.String("stage", string(s)), slog.Duration("elapsed", time.Since(l.start)))
	if l.c.progress != nil {
		l.c.progress(Progress{Stage: s, Elapsed: time.Since(l.start)})
	}
}

// rollback runs the undo stack in reverse and reports every failure.
func (l *launcher) rollback() error {
	var errs []error
	for i := len(l.undo) - 1; i >= 0; i-- {
		errs = append(errs, l.undo[i]())
	}
	l.undo = nil
	return errors.Join(errs...)
}

func (l *launcher) launch(ctx context.Context, p *Plan) (d *Daemon, err error) {
	defer func() {
		if err != nil {
			if rerr := l.rollback(); rerr != nil {
				l.log.Warn("rollback after failed launch", slog.Any("error", rerr))
			}
		}
	}()
	l.stage(StageCheck)
	for _, f := range p.Findings {
		if f.Severity == diag.Warning {
			l.log.Warn("host check", slog.String("check", string(f.ID)), slog.String("detail", f.Detail), slog.String("remedy", f.Fix))
		}
	}

	l.stage(StagePrepare)
	if err := l.prepare(p); err != nil {
		return nil, err
	}

	sink := newLogSink(l.c.output, l.log)
	p, proc, err := l.startEngine(ctx, p, sink)
	if err != nil {
		return nil, err
	}
	l.stage(StageDockerd)
	if err := l.waitAPI(ctx, p, proc, sink); err != nil {
		return nil, err
	}
	d, err = newDaemon(ctx, p, proc, sink, l.locks)
	if err != nil {
		return nil, l.startError(StageDockerd, err, sink, proc)
	}
	l.undo = nil // the Daemon owns everything now
	l.stage(StageReady)
	l.log.LogAttrs(ctx, slog.LevelInfo, "daemon ready", slog.String("host", d.Host()), slog.Int("pid", proc.PID()),
		slog.String("engine", p.Engine.String()), slog.String("net_driver", p.Network.Name()), slog.String("port_driver", p.Port.Name()),
		slog.Duration("startup", time.Since(l.start)))
	return d, nil
}

// prepare makes the state directory, takes the locks and removes stale files.
func (l *launcher) prepare(p *Plan) error {
	paths := p.Paths
	if err := checkPrivateDir(paths.StateDir, p.h.uid); err != nil {
		return err
	}
	stateLock, err := lock(filepath.Join(paths.StateDir, lockFile))
	if err != nil {
		return fmt.Errorf("state directory %s: %w", paths.StateDir, err)
	}
	l.undo = append(l.undo, stateLock.Close)
	if err := os.MkdirAll(paths.DataRoot, 0o710); err != nil {
		return because(problem(IDDataRootCreate, fmt.Sprintf("cannot create %s: %v", paths.DataRoot, err), paths.DataRoot,
			"choose a data root you can write to (WithDataRoot)"), err)
	}
	dataLock, err := lock(filepath.Join(paths.DataRoot, dataLockFile))
	if err != nil {
		return fmt.Errorf("data root %s: %w", paths.DataRoot, err)
	}
	l.undo = append(l.undo, dataLock.Close)
	l.locks = []*os.File{stateLock, dataLock}
	if err := paths.cleanStale(); err != nil {
		return err
	}
	for _, dir := range []string{filepath.Dir(paths.RootlessKitStateDir), filepath.Dir(paths.Socket), paths.ExecRoot} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	l.undo = append(l.undo, paths.removeRuntimeFiles)
	return nil
}

// startEngine starts RootlessKit and waits until it has set up the namespaces (it writes
// child_pid last). With EngineAuto, a denied embedded engine falls back to the external one:
// the options are resolved again with the engine forced, so that every decision suits the
// installed RootlessKit (its version's flags, detach-netns, the source-IP port driver).
func (l *launcher) startEngine(ctx context.Context, p *Plan, sink *logSink) (*Plan, *engine.Process, error) {
	l.stage(StageNamespaces)
	proc, err := l.tryEngine(ctx, p, sink)
	if err == nil || p.c.engine != EngineAuto || p.Engine != EngineEmbedded || !deniedUserNS(sink.Tail()) || p.Fallback == nil {
		return p, proc, err
	}
	l.log.Warn("embedded engine denied a user namespace; falling back to the installed rootlesskit",
		slog.String("rootlesskit", p.Fallback.Path), slog.String("reason", "AppArmor restricts unprivileged user namespaces to profiled binaries"))
	fp, ferr := p.fallbackPlan(ctx)
	if ferr != nil {
		return nil, nil, errors.Join(err, fmt.Errorf("rootless: the fallback to %s: %w", p.Fallback.Path, ferr))
	}
	proc, err = l.tryEngine(ctx, fp, sink)
	return fp, proc, err
}

func (l *launcher) tryEngine(ctx context.Context, p *Plan, sink *logSink) (*engine.Process, error) {
	so := engine.StartOptions{Executable: p.h.executable, RootlessKit: p.RootlessKit.Path, Version: p.RootlessKit.Version,
		SpecDir: p.Paths.StateDir, Env: p.helperEnv, Output: sink}
	l.log.Debug("engine", slog.String("engine", p.Engine.String()), slog.Any("dockerd", p.DockerdArgs), slog.Any("rootlesskit_flags", p.RootlessKitFlags))
	proc, err := engine.Start(&p.spec, so)
	if err != nil {
		return nil, l.startError(StageNamespaces, err, sink, nil)
	}
	// A daemon that never became ready serves nobody: a short grace, then the group dies. A
	// SIGTERM can be lost while RootlessKit's child, the PID namespace's init, has not set up
	// its signal forwarding yet. A killed RootlessKit cannot remove its state dir; we do.
	stop := func() error {
		return errors.Join(stopProcess(proc, startupGrace), removeTree(p.Paths.RootlessKitStateDir))
	}
	childPID := filepath.Join(p.Paths.RootlessKitStateDir, engine.StateChildPID)
	err = poll(ctx, proc, func() (bool, error) {
		_, err := os.Stat(childPID)
		return err == nil, nil
	})
	if err != nil {
		serr := l.startError(StageNamespaces, err, sink, proc)
		_ = stop()
		return nil, serr
	}
	l.undo = append(l.undo, stop)
	return proc, nil
}

// waitAPI waits until dockerd answers GET /_ping on its socket.
func (l *launcher) waitAPI(ctx context.Context, p *Plan, proc *engine.Process, sink *logSink) error {
	hc := unixHTTPClient(p.Paths.Socket)
	err := poll(ctx, proc, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
		if err != nil {
			return false, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return l.startError(StageDockerd, err, sink, proc)
	}
	return nil
}

// poll calls ready with backoff until it reports true, the process exits (fail fast: no waiting
// for a timeout), or ctx ends.
func poll(ctx context.Context, proc *engine.Process, ready func() (bool, error)) error {
	delay := 5 * time.Millisecond
	for {
		ok, err := ready()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-proc.Done():
			if err := proc.Err(); errors.Is(err, engine.ErrChildLost) {
				return fmt.Errorf("%w: %w", errExited, err)
			}
			return fmt.Errorf("%w with status %d", errExited, proc.ExitCode())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// startError builds a StartError with the log tail and, when a known failure shows, its cause.
func (l *launcher) startError(s Stage, err error, sink *logSink, proc *engine.Process) error {
	if proc != nil && errors.Is(err, errExited) {
		awaitOutput(proc) // the last lines explain the failure
	}
	tail := sink.Tail()
	cause, fix := diagnose(tail)
	return &StartError{Stage: s, Cause: cause, Fix: fix, Log: tail, Err: err}
}

// awaitOutput waits until the exited tree's output has been copied, for at most a second (a
// process that escaped the tree may hold the pipe open).
func awaitOutput(proc *engine.Process) {
	select {
	case <-proc.OutputCopied():
	case <-time.After(time.Second):
	}
}

// stopProcess sends SIGTERM, waits up to grace, then kills the process group and waits.
func stopProcess(proc *engine.Process, grace time.Duration) error {
	_ = proc.Signal(sigterm)
	select {
	case <-proc.Done():
		return nil
	case <-time.After(grace):
	}
	if err := proc.Kill(); err != nil {
		return err
	}
	<-proc.Done()
	return nil
}

func unixHTTPClient(sock string) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}},
	}
}
