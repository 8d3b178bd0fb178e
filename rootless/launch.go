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

	"github.com/rootlessd/rootlessd/internal/engine"
)

// defaultStopTimeout bounds Close: dockerd first stops the running containers.
const defaultStopTimeout = 15 * time.Second

// startupGrace bounds the SIGTERM of a launch that is rolled back.
const startupGrace = 3 * time.Second

// newConfig applies every option and reports all invalid ones together.
func newConfig(opts []Option) (*config, error) {
	c := &config{stopTimeout: defaultStopTimeout, subidSource: "auto"}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("%w: nil Option", ErrInvalidOption))
			continue
		}
		if err := o.apply(c); err != nil {
			errs = append(errs, err)
		}
	}
	// Over every WithDockerdArgs call at once: a later call may add the --tlsverify an
	// earlier TCP host needs, or switch it off again.
	if err := checkTCPHosts(c.dockerdArgs); err != nil {
		errs = append(errs, err)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.environ == nil {
		c.environ = os.Environ()
	}
	return c, errors.Join(errs...)
}

// Launch starts a rootless Docker daemon and returns once its API answers.
//
// ctx bounds startup only: cancelling it later does not stop the daemon, which runs until
// Shutdown or Close, or until this process exits (even by SIGKILL: the whole process tree dies
// with it). On error, everything Launch started has been stopped and removed again, the
// returned *Daemon is nil, and the error is one of: the joined option errors (ErrInvalidOption),
// joined *PrereqError for what the host lacks, ErrAlreadyRunning, ErrNoInit, or a *StartError
// naming the stage that failed, with the daemon's last log lines and, for known failures, the
// cause and its fix.
//
// With the embedded engine (the default) the program must call Init at the top of main.
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
	if c.engine == EngineEmbedded && !engine.Initialized() {
		return nil, fmt.Errorf("%w: the embedded engine re-runs this executable and needs rootless.Init as the first statement of main (in tests: of TestMain)", ErrNoInit)
	}
	l := &launcher{c: c, start: start, log: c.logger}
	return l.launch(ctx)
}

// launcher carries one Launch call's state and its undo stack.
type launcher struct {
	c     *config
	start time.Time
	log   *slog.Logger
	undo  []func() error
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

func (l *launcher) launch(ctx context.Context) (d *Daemon, err error) {
	defer func() {
		if err != nil {
			if rerr := l.rollback(); rerr != nil {
				l.log.Warn("rollback after failed launch", slog.Any("error", rerr))
			}
		}
	}()
	l.stage(StageCheck)
	p, err := resolve(ctx, l.c)
	if err != nil {
		return nil, err
	}
	for _, w := range p.warnings {
		l.log.Warn("host check", slog.String("check", w.Check), slog.String("detail", w.Detail), slog.String("remedy", w.Remedy))
	}

	l.stage(StagePrepare)
	if err := l.prepare(p); err != nil {
		return nil, err
	}

	sink := newLogSink(l.c.output, l.log)
	proc, err := l.startEngine(ctx, p, sink)
	if err != nil {
		return nil, err
	}
	l.stage(StageDockerd)
	if err := l.waitAPI(ctx, p, proc, sink); err != nil {
		return nil, err
	}
	d, err = newDaemon(ctx, p, proc, sink)
	if err != nil {
		return nil, l.startError(StageDockerd, err, sink, proc)
	}
	l.undo = nil // the Daemon owns everything now
	l.stage(StageReady)
	l.log.LogAttrs(ctx, slog.LevelInfo, "daemon ready", slog.String("host", d.Host()), slog.Int("pid", proc.PID()),
		slog.String("engine", p.engine.String()), slog.String("net_driver", p.netName()), slog.String("port_driver", p.portName()),
		slog.Duration("startup", time.Since(l.start)))
	return d, nil
}

// prepare makes the state directory, takes the locks and removes stale files.
func (l *launcher) prepare(p *plan) error {
	if err := checkPrivateDir(p.layout.StateDir, p.uid); err != nil {
		return err
	}
	stateLock, err := lock(filepath.Join(p.layout.StateDir, lockFile))
	if err != nil {
		return err
	}
	l.undo = append(l.undo, stateLock.Close)
	if err := os.MkdirAll(p.layout.DataRoot, 0o710); err != nil {
		return &PrereqError{Check: "data-root", Detail: fmt.Sprintf("cannot create %s: %v", p.layout.DataRoot, err),
			Remedy: "choose a data root you can write to (WithDataRoot)", Err: err}
	}
	dataLock, err := lock(filepath.Join(p.layout.DataRoot, dataLockFile))
	if err != nil {
		return fmt.Errorf("data root %s: %w", p.layout.DataRoot, err)
	}
	l.undo = append(l.undo, dataLock.Close)
	p.heldLocks = []*os.File{stateLock, dataLock}
	if err := p.layout.cleanStale(); err != nil {
		return err
	}
	for _, dir := range []string{filepath.Dir(p.layout.RKDir), filepath.Dir(p.layout.Socket), p.layout.ExecRoot} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	l.undo = append(l.undo, func() error { return p.layout.removeRuntimeFiles() })
	return nil
}

// startEngine starts RootlessKit and waits until it has set up the namespaces (it writes
// child_pid last). With EngineAuto, a denied embedded engine falls back to the external one.
func (l *launcher) startEngine(ctx context.Context, p *plan, sink *logSink) (*engine.Process, error) {
	l.stage(StageNamespaces)
	proc, err := l.tryEngine(ctx, p, sink)
	if err == nil || l.c.engine != EngineAuto || p.engine != EngineEmbedded || !deniedUserNS(sink.Tail()) || p.fallback == nil {
		return proc, err
	}
	l.log.Warn("embedded engine denied a user namespace; falling back to the installed rootlesskit",
		slog.String("rootlesskit", p.fallback.path), slog.String("reason", "AppArmor restricts unprivileged user namespaces to profiled binaries"))
	if ferr := p.useExternal(*p.fallback); ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	p.fellBack = true
	return l.tryEngine(ctx, p, sink)
}

func (l *launcher) tryEngine(ctx context.Context, p *plan, sink *logSink) (*engine.Process, error) {
	cfg, so, err := p.engineConfig(sink)
	if err != nil {
		return nil, err
	}
	proc, err := engine.Start(cfg, so)
	if err != nil {
		return nil, l.startError(StageNamespaces, err, sink, nil)
	}
	// A daemon that never became ready serves nobody: a short grace, then the group dies. A
	// SIGTERM can be lost while RootlessKit's child, the PID namespace's init, has not set up
	// its signal forwarding yet. A killed RootlessKit cannot remove its state dir; we do.
	stop := func() error {
		return errors.Join(stopProcess(proc, startupGrace), removeTree(p.layout.RKDir))
	}
	childPID := filepath.Join(p.layout.RKDir, engine.StateChildPID)
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
func (l *launcher) waitAPI(ctx context.Context, p *plan, proc *engine.Process, sink *logSink) error {
	hc := unixHTTPClient(p.layout.Socket)
	err := poll(ctx, proc, func() (bool, error) {
		resp, err := hc.Get("http://docker/_ping")
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

// errExited reports a process tree that exited before the stage completed.
var errExited = errors.New("the daemon's process tree exited")

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
	cause, remedy := diagnose(tail)
	return &StartError{Stage: s, Cause: cause, Remedy: remedy, Log: tail, Err: err}
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
