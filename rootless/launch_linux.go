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

	"golang.org/x/sys/unix"

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
// with it). Without an earlier deadline in ctx, startup is bounded by WithStartTimeout
// (default 2m). On error, everything Launch started has been stopped and removed again, the
// returned *Daemon is nil, and the error is one of: the joined option errors
// (ErrInvalidOption), the joined error-level findings ([*diag.Finding]) of what the host lacks
// (ErrNoInit among them when Init was not called), ErrAlreadyRunning, or a *StartError naming
// the stage that failed, with the daemon's last log lines and, for known failures, the cause
// and its fix (for a start-up that ran out of time: what stopped answering).
//
// The program must call Init at the top of main.
func Launch(ctx context.Context, opts ...Option) (*Daemon, error) {
	start := time.Now()
	if engine.StartedAsRole() {
		// The engine re-ran this executable, and main reached Launch: Init is missing or late.
		return nil, fmt.Errorf("%w: this process is rootlessd's engine helper, so main must call rootless.Init before anything else", ErrNoInit)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := startContext(ctx, c.startTimeout)
	defer cancel()
	l := &launcher{c: c, start: start, log: c.logger}
	if err := l.stage(ctx, StageCheck); err != nil {
		return nil, err
	}
	// The engine starts while the checks that only read the namespace probes' answers finish:
	// launch waits for them before it hands out the daemon.
	p, checks, err := resolveForLaunch(ctx, c, localHost(daemonPath(c.bins.Path, envLookup(c.environ)("PATH"))))
	if err != nil {
		return nil, checkError(ctx, err)
	}
	l.paths, l.checks = p.Paths, checks
	return l.launch(ctx, p)
}

// checkError is the error of a resolve for Launch that failed.
func checkError(ctx context.Context, err error) error {
	if _, ok := errors.AsType[*startTimeout](context.Cause(ctx)); ok {
		// A probe hung (a dockerd wrapper that never exits): its error names it.
		return &StartError{Stage: StageCheck, Err: err}
	}
	return err
}

// Launch starts the daemon p describes and returns once its API answers. It decides nothing
// anew, with one exception: with EngineAuto, an embedded engine that is denied a user namespace
// (AppArmor) is replaced by the installed rootlesskit of p.Fallback, for which the options are
// resolved again with the external engine (Info.FellBack says so). ctx bounds startup only,
// and WithStartTimeout bounds it when ctx has no earlier deadline; on error everything started
// has been stopped and removed. See [Launch] for the errors.
func (p *Plan) Launch(ctx context.Context) (*Daemon, error) {
	if p == nil || p.c == nil {
		return nil, errors.New("rootless: Plan.Launch: the plan was not made by Resolve")
	}
	ctx, cancel := startContext(ctx, p.c.startTimeout)
	defer cancel()
	l := &launcher{c: p.c, paths: p.Paths, start: time.Now(), log: p.c.logger}
	if err := l.stage(ctx, StageCheck); err != nil {
		return nil, err
	}
	return l.launch(ctx, p)
}

// startTimeout is the cause of a start-up that ran out of WithStartTimeout's time.
type startTimeout struct{ d time.Duration }

func (e *startTimeout) Error() string {
	return fmt.Sprintf("the start-up timeout of %v passed (WithStartTimeout)", e.d)
}

func (e *startTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

// startContext bounds ctx by timeout unless it has an earlier deadline.
func startContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= timeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, timeout, &startTimeout{timeout})
}

// launcher carries one Launch call's state and its undo stack.
type launcher struct {
	c     *config
	paths Paths
	start time.Time
	log   *slog.Logger
	undo  []func() error
	locks []*os.File
	probe *engine.ProbeListener // receives the watchdog's socket from the target; nil if none
	// checks waits for the resolve's checks still under way (resolveForLaunch) and returns
	// resolve's error; nil when the plan is complete.
	checks func() error
}

// awaitChecks waits for the checks still under way, completing p's Findings, and logs the
// warnings. err is the launch's error so far: the checks' error replaces it when it has
// findings (the host's problems, which Launch reports before anything it started, as when
// the checks ran first) or when there is none.
func (l *launcher) awaitChecks(ctx context.Context, p *Plan, err error) error {
	if l.checks != nil {
		cerr := l.checks()
		l.checks = nil
		if cerr != nil && (err == nil || len(diag.List(cerr)) > 0) {
			return checkError(ctx, cerr)
		}
	}
	if err == nil {
		for _, f := range p.Findings {
			if f.Severity == diag.Warning {
				l.log.Warn("host check", slog.String("check", string(f.ID)), slog.String("detail", f.Detail), slog.String("remedy", f.Fix))
			}
		}
	}
	return err
}

// stage reports that stage s begins, and stops the launch if ctx has ended: a cancel during
// one stage starts nothing of the next.
func (l *launcher) stage(ctx context.Context, s Stage) error {
	l.log.LogAttrs(context.Background(), slog.LevelDebug, "launch stage", slog.String("stage", string(s)), slog.Duration("elapsed", time.Since(l.start)))
	if l.c.progress != nil {
		l.c.progress(Progress{Stage: s, Elapsed: time.Since(l.start)})
	}
	if ctx.Err() != nil {
		return &StartError{Stage: s, Err: context.Cause(ctx)}
	}
	return nil
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
	if err := l.stage(ctx, StagePrepare); err != nil {
		return nil, l.awaitChecks(ctx, p, err)
	}
	if err := l.prepare(p); err != nil {
		return nil, l.awaitChecks(ctx, p, err)
	}

	sink := newLogSink(l.c.output, l.log)
	st, err := l.run(ctx, p, sink)
	if err = l.awaitChecks(ctx, p, err); err != nil {
		if st.probe != nil {
			st.probe.Close()
		}
		return nil, err
	}
	d, err = newDaemon(st.plan, st, sink, l.locks)
	if err != nil {
		if st.probe != nil {
			st.probe.Close()
		}
		return nil, l.startError(StageDockerd, err, sink, st.proc)
	}
	if err := l.detached(d, st.plan); err != nil {
		_ = d.Shutdown(context.Background()) // the Daemon owns the tree already
		return nil, l.startError(StageDockerd, err, sink, nil)
	}
	l.undo = nil // the Daemon owns everything now
	_ = l.stage(context.Background(), StageReady)
	l.log.LogAttrs(ctx, slog.LevelInfo, "daemon ready", slog.String("host", d.Host()), slog.Int("pid", st.proc.PID()),
		slog.String("engine", st.plan.Engine.String()), slog.String("net_driver", st.plan.Network.Name()), slog.String("port_driver", st.plan.Port.Name()),
		slog.Duration("startup", time.Since(l.start)))
	return d, nil
}

// run starts the engine, waits until dockerd answers and confirms rootless mode: what a
// restart in place repeats. The plan it returns is p, or EngineAuto's fallback plan.
func (l *launcher) run(ctx context.Context, p *Plan, sink *logSink) (started, error) {
	p, proc, err := l.startEngine(ctx, p, sink)
	if l.probe != nil {
		defer func() { l.probe.Close(); l.probe = nil }()
	}
	if err != nil {
		return started{}, err
	}
	if err := l.stage(ctx, StageDockerd); err != nil {
		return started{}, l.startError(StageDockerd, err.(*StartError).Err, sink, proc)
	}
	if err := l.waitAPI(ctx, p, proc, sink); err != nil {
		return started{}, err
	}
	info, err := confirm(ctx, p)
	if err != nil {
		return started{}, l.startError(StageDockerd, err, sink, proc)
	}
	st := started{plan: p, proc: proc, info: info}
	if l.probe != nil {
		// The target sent it before dockerd started, long ago by now: it waits in the
		// listener's queue, or was never sent.
		if f, err := l.probe.Receive(time.Now().Add(250 * time.Millisecond)); err == nil {
			st.probe = f
		} else {
			l.log.Debug("health: no probe socket from the target", slog.Any("error", err))
		}
	}
	return st, nil
}

// relaunch starts the daemon of p again for a restart in place: the Daemon holds the locks,
// and l.locks are they; what the old tree left is removed first.
func (l *launcher) relaunch(ctx context.Context, p *Plan, sink *logSink) (st started, err error) {
	defer func() {
		if err != nil {
			if rerr := l.rollback(); rerr != nil {
				l.log.Warn("rollback after failed restart", slog.Any("error", rerr))
			}
		}
	}()
	if err := l.stage(ctx, StagePrepare); err != nil {
		return started{}, err
	}
	if err := l.clean(p.Paths); err != nil {
		return started{}, err
	}
	st, err = l.run(ctx, p, sink)
	if err == nil {
		l.undo = nil
		_ = l.stage(context.Background(), StageReady)
	}
	return st, err
}

// prepare makes the state directory, takes the locks and removes stale files.
func (l *launcher) prepare(p *Plan) error {
	paths := p.Paths
	if err := checkPrivateDir(paths.StateDir, p.h.uid); err != nil {
		return err
	}
	stateLock, err := lock(filepath.Join(paths.StateDir, lockFile))
	if err != nil {
		return inUse("state directory", paths.StateDir, "WithStateDir", err)
	}
	l.undo = append(l.undo, stateLock.Close)
	if err := os.MkdirAll(paths.DataRoot, 0o710); err != nil {
		return because(problem(IDDataRootCreate, fmt.Sprintf("cannot create %s: %v", paths.DataRoot, err), paths.DataRoot,
			"choose a data root you can write to (WithDataRoot)"), err)
	}
	dataLock, err := lock(filepath.Join(paths.DataRoot, dataLockFile))
	if err != nil {
		if errors.Is(err, unix.EROFS) || errors.Is(err, os.ErrPermission) {
			why := "is on a read-only file system"
			if !errors.Is(err, unix.EROFS) {
				why = "is not writable by this user"
			}
			return because(problem(IDDataRootUnwritable, fmt.Sprintf("the data root %s %s: dockerd keeps images, containers and volumes there", paths.DataRoot, why),
				err.Error(), "choose a data root on a writable local file system (WithDataRoot), or remount it read-write"), err)
		}
		return inUse("data root", paths.DataRoot, "WithDataRoot", err)
	}
	l.undo = append(l.undo, dataLock.Close)
	l.locks = []*os.File{stateLock, dataLock}
	return l.clean(paths)
}

// clean removes what a killed daemon left, with the locks held, and makes the directories.
func (l *launcher) clean(paths Paths) error {
	if err := paths.cleanStale(dyingTreeGrace); err != nil {
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
	if err := l.stage(ctx, StageNamespaces); err != nil {
		return nil, nil, err
	}
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
	spec := p.spec
	if path := filepath.Join(p.Paths.StateDir, probeSocketFile); len(path) <= maxSocketPath && l.probe == nil {
		// The target hands over a socket in the containers' network namespace (the watchdog's
		// network check); without it, only that check is missing.
		if pl, err := engine.ListenProbe(path); err == nil {
			l.probe, spec.Target.ProbeSocket = pl, path
		}
	}
	proc, err := l.startTree(p, &spec, so)
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
		serr := l.startErrorIn(StageNamespaces, p, err, sink, proc)
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
		return l.startErrorIn(StageDockerd, p, err, sink, proc)
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
			return context.Cause(ctx)
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// startErrorIn is startError for a wait in stage s of plan p that ctx ended: a start-up
// timeout names what stopped answering.
func (l *launcher) startErrorIn(s Stage, p *Plan, err error, sink *logSink, proc *engine.Process) error {
	serr := l.startError(s, err, sink, proc)
	if _, ok := errors.AsType[*startTimeout](err); !ok || proc == nil {
		return serr
	}
	se := serr.(*StartError)
	what, cause, fix := hang(s, p, proc.PID())
	se.Err = fmt.Errorf("%w: %s", err, what)
	if cause != "" {
		se.Cause, se.Fix = cause, fix
	}
	return se
}

// hang says what did not answer when stage s of plan p ran out of time, the tree of the
// engine process root still running: a stopped process, else the step that did not finish.
func hang(s Stage, p *Plan, root int) (what, cause, fix string) {
	tree := descendants(root)
	rootExe := ""
	if len(tree) > 0 {
		rootExe = tree[0].Exe
	}
	names := newRoleNamer(p, root, rootExe)
	for _, pr := range tree {
		if pr.Stopped() {
			who := fmt.Sprintf("%s (pid %d)", names.role(pr), pr.PID)
			return who + " is stopped and never answered",
				who + " was stopped (state " + string(pr.State) + ": SIGSTOP, a debugger, or a job-control stop)",
				"find what stops it (a debugger, kill -STOP, a frozen cgroup); kill -CONT resumes a stopped process"
		}
	}
	if s == StageNamespaces {
		return "RootlessKit did not finish setting up the namespaces (" + engine.StateChildPID + " never appeared in " + p.Paths.RootlessKitStateDir + ")", "", ""
	}
	for _, pr := range tree {
		if names.role(pr) == "dockerd" {
			return fmt.Sprintf("dockerd (pid %d) did not answer GET /_ping on %s", pr.PID, p.Paths.Socket), "", ""
		}
	}
	return "dockerd did not start, and nothing answered GET /_ping on " + p.Paths.Socket, "", ""
}

// startError builds a StartError with the log tail and, when a known failure shows, its cause.
func (l *launcher) startError(s Stage, err error, sink *logSink, proc *engine.Process) error {
	if proc != nil && errors.Is(err, errExited) {
		awaitOutput(proc) // the last lines explain the failure
	}
	cause, fix := explain(sink.Retained(), l.paths, freeSpace) // the whole start-up, not just its tail
	return &StartError{Stage: s, Cause: cause, Fix: fix, Log: sink.Tail(), Err: err}
}

// freeSpace reports the free and total bytes of the file system of dir (or of its nearest
// existing ancestor).
func freeSpace(dir string) (avail, total uint64, ok bool) {
	_, st, err := statfsExisting(dir)
	if err != nil {
		return 0, 0, false
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), true
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
