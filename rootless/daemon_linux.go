//go:build linux

package rootless

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/client"

	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/internal/proc"
	"github.com/rootlessd/rootlessd/portdriver"
)

const sigterm = syscall.SIGTERM

// Daemon is a running rootless dockerd. Its methods are safe for concurrent use. Its plan and
// paths never change; a restart in place by the watchdog (Watchdog.Restart) replaces its
// process tree, and with it PID and Info's ChildPID.
type Daemon struct {
	plan  *Plan // what it was started from, for restarts
	ports *portdriver.Manager
	sink  *logSink
	log   *slog.Logger
	locks []*os.File // the state dir's and the data root's, held until the last tree has exited
	grace time.Duration
	wd    Watchdog

	// ctx ends when Shutdown begins: it cancels a restart in progress.
	ctx    context.Context
	cancel context.CancelFunc

	done      chan struct{}
	mu        sync.Mutex
	info      Info
	gen       *generation // the running process tree
	stopping  bool
	err       error
	health    Health
	changed   chan struct{} // closed when health is replaced
	closeOnce sync.Once
	closeErr  error
	lc        lifecycle // detached or attached (detach_linux.go)
}

// generation is one process tree of the daemon: the first, or one a restart started.
type generation struct {
	proc     *engine.Process
	childPID int
	names    roleNamer
	watched  []watched // the processes whose end or stop breaks the daemon
	network  *watched  // the network program, nil for none or an in-process one
	echo     *echoProbe
	broken   chan *HealthError // the watchdog's verdict; buffered
	stop     chan struct{}     // closed when the generation ends
	stopOnce sync.Once
}

func (g *generation) end() { g.stopOnce.Do(func() { close(g.stop) }) }

// started is what a launch hands to the Daemon: the running tree and what it confirmed.
type started struct {
	plan  *Plan
	proc  *engine.Process
	probe *os.File // the UDP socket in the containers' network namespace; nil if none
	info  Info
}

// confirm reads child_pid and asks the daemon to confirm rootless mode (GET /info).
func confirm(ctx context.Context, p *Plan) (Info, error) {
	info := Info{Plan: *p.clone(), FellBack: p.fellBack}
	pidb, err := os.ReadFile(filepath.Join(p.Paths.RootlessKitStateDir, engine.StateChildPID))
	if err != nil {
		return info, err
	}
	info.ChildPID, _ = strconv.Atoi(string(pidb))
	cli, err := client.NewClientWithOpts(client.WithHost(p.Host()), client.WithAPIVersionNegotiation())
	if err != nil {
		return info, err
	}
	defer cli.Close()
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	di, err := cli.Info(ictx)
	if err != nil {
		return info, fmt.Errorf("docker info: %w", err)
	}
	info.ServerVersion, info.StorageDriver, info.CgroupDriver = di.ServerVersion, di.Driver, di.CgroupDriver
	if !slices.Contains(di.SecurityOptions, "name=rootless") {
		return info, fmt.Errorf("the daemon does not report rootless mode (security options %v)", di.SecurityOptions)
	}
	return info, nil
}

func newDaemon(p *Plan, st started, sink *logSink, locks []*os.File) (*Daemon, error) {
	d := &Daemon{plan: p.clone(), sink: sink, log: p.c.logger, locks: locks, grace: p.c.stopTimeout, wd: p.c.watchdog,
		done: make(chan struct{}), changed: make(chan struct{})}
	var err error
	if d.ports, err = portdriver.NewManager(filepath.Join(p.Paths.RootlessKitStateDir, engine.StateAPISock),
		portdriver.WithHost(p.h.net), portdriver.WithBinder(p.binder)); err != nil {
		return nil, err
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.info = st.info
	d.gen = d.newGeneration(st)
	d.health = Health{State: Healthy, Since: time.Now(), Checks: d.gen.checks(), Changed: d.changed}
	go d.supervise()
	return d, nil
}

// supervise owns the daemon's lifecycle: it waits for the tree to exit or the watchdog to find
// it broken, then stops it, restarts it in place, or finishes.
func (d *Daemon) supervise() {
	for {
		d.mu.Lock()
		g := d.gen
		d.mu.Unlock()
		go d.watch(g)
		var verdict *HealthError
		select {
		case <-g.proc.Done():
		case verdict = <-g.broken:
		}
		g.end()
		if verdict != nil && !d.isStopping() && !d.lc.released.Load() {
			d.log.Warn("watchdog: the daemon is broken; stopping it", slog.String("check", string(verdict.Check)),
				slog.String("process", verdict.Process), slog.String("detail", verdict.Detail))
			_ = stopProcess(g.proc, d.grace)
		}
		<-g.proc.Done()
		awaitOutput(g.proc) // the last lines say why
		g.close()
		_ = removeTree(d.info.Paths.RootlessKitStateDir) // a killed RootlessKit leaves it
		if d.isStopping() || d.lc.released.Load() {      // Close let go: whoever stopped it owns its end
			d.finish(nil)
			return
		}
		exit := d.exitError(g, verdict)
		d.log.Error("daemon exited unexpectedly", slog.Int("exit_code", exit.Code), slog.String("process", exit.Process), slog.String("cause", exit.Cause))
		if !d.wd.Restart {
			d.finish(exit)
			return
		}
		if err := d.restart(exit); err != nil {
			if d.isStopping() {
				d.finish(nil)
				return
			}
			exit.Err = err
			d.finish(exit)
			return
		}
	}
}

func (d *Daemon) isStopping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopping
}

// restart starts the daemon again from its plan, in place: the locks stay held.
func (d *Daemon) restart(why *ExitError) error {
	d.setHealth(func(h *Health) {
		h.State, h.Err = Restarting, why
		if why.Err != nil {
			h.Err = why.Err
		}
	})
	d.log.Warn("watchdog: restarting the daemon in place", slog.String("process", why.Process), slog.String("cause", why.Cause))
	ctx, cancel := startContext(d.ctx, d.plan.c.startTimeout)
	defer cancel()
	l := &launcher{c: d.plan.c, paths: d.info.Paths, start: time.Now(), log: d.log, locks: d.locks}
	st, err := l.relaunch(ctx, d.plan, d.sink)
	if err != nil {
		return err
	}
	d.mu.Lock()
	stopping := d.stopping
	if !stopping {
		d.info.ChildPID = st.info.ChildPID
		d.info.ServerVersion, d.info.StorageDriver, d.info.CgroupDriver = st.info.ServerVersion, st.info.StorageDriver, st.info.CgroupDriver
		d.gen = d.newGeneration(st)
	}
	d.mu.Unlock()
	if !stopping && d.lc.detached {
		// Attach finds the daemon by its record: the new tree has another leader.
		if err := writeRecord(d.info.Paths.StateDir, st.proc.PID(), &d.info, d.plan.binder); err != nil {
			d.log.Warn("watchdog: record the restarted daemon", slog.Any("error", err))
		}
	}
	if stopping { // Shutdown came while the new tree started
		if st.probe != nil {
			st.probe.Close()
		}
		_ = stopProcess(st.proc, d.grace)
		return ErrClosed
	}
	d.setHealth(func(h *Health) {
		h.State, h.Failures, h.Err, h.Checks = Healthy, 0, nil, d.gen.checks()
		h.Restarts++
	})
	d.log.Info("daemon restarted", slog.Int("pid", st.proc.PID()))
	return nil
}

// finish records how the daemon ended and releases what it held.
func (d *Daemon) finish(err error) {
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	if err == nil {
		d.log.Info("daemon stopped")
	}
	d.ports.Close()
	d.releaseFiles()
	for _, f := range d.locks {
		f.Close()
	}
	d.setHealth(func(h *Health) { h.State, h.Err, h.Checks = Stopped, err, nil })
	d.cancel()
	close(d.done)
}

// exitError says how generation g ended: from the watchdog's verdict, the engine process's
// own status, or what RootlessKit printed about its child and dockerd.
func (d *Daemon) exitError(g *generation, verdict *HealthError) *ExitError {
	tail := d.sink.Tail()
	e := &ExitError{Code: g.proc.ExitCode(), Log: tail}
	e.Cause, e.Fix = explain(tail, d.info.Paths, freeSpace)
	if ws, ok := g.proc.WaitStatus(); ok && ws.Signaled() {
		e.Code = 128 + int(ws.Signal())
		e.Process, e.Signal = g.names.role(procInfo{Stat: proc.Stat{PID: g.proc.PID()}}), ws.Signal()
	} else if proc, status, ok := treeExit(tail); ok {
		e.Process = proc
		if sig := status & 0x7f; sig != 0 {
			e.Signal, e.Code = syscall.Signal(sig), 128+sig
		} else {
			e.Code = status >> 8
		}
	}
	if verdict != nil {
		e.Err, e.Process, e.Signal = verdict, verdict.Process, 0
		if ws := verdict.Status; ws >= 0 && ws&0x7f != 0 {
			e.Signal, e.Code = syscall.Signal(ws&0x7f), 128+ws&0x7f
		} else if ws >= 0 {
			e.Code = ws >> 8 & 0xff
		}
		if e.Cause == "" {
			e.Cause, e.Fix = verdictCause(verdict)
		}
	}
	return e
}

// Host is the DOCKER_HOST value for this daemon, e.g. unix:///run/user/1000/rootlessd/docker.sock.
func (d *Daemon) Host() string { return "unix://" + d.info.Paths.Socket }

// SocketPath is the Docker API socket on the host, for tools that bind-mount it into a
// container.
func (d *Daemon) SocketPath() string { return d.info.Paths.Socket }

// Env is what a docker CLI or another tool needs in its environment to use this daemon:
// DOCKER_HOST, and TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE, the socket that Testcontainers' Ryuk
// container must mount (it assumes /var/run/docker.sock otherwise). On a machine with a
// /.dockerenv file (this program runs in a Docker container) it adds
// TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1, unless this process's environment sets it: published
// ports are on this machine's loopback, but there testcontainers-go takes a unix DOCKER_HOST for
// a daemon outside the container and looks for them at the gateway of the daemon's default
// network, which is inside RootlessKit's namespace.
func (d *Daemon) Env() []string { return clientEnv(d.info.Paths.Socket) }

// Info describes the daemon. The result shares nothing with the Daemon.
func (d *Daemon) Info() Info {
	d.mu.Lock()
	i := d.info
	d.mu.Unlock()
	i.Plan = *i.Plan.clone()
	return i
}

// Client returns a Docker API client for this daemon, with the API version negotiated. The
// caller closes it.
func (d *Daemon) Client() (*client.Client, error) {
	return client.NewClientWithOpts(client.WithHost(d.Host()), client.WithAPIVersionNegotiation())
}

// Ports manages the ports RootlessKit publishes at run time, through its API socket. Ports that
// dockerd publishes for `docker run -p` show up here too. It reports privileged ports up front,
// with both remedies. The manager stays valid until the daemon exits.
func (d *Daemon) Ports() *portdriver.Manager { return d.ports }

// Command returns a command that runs name with args inside the daemon's user and mount
// namespaces and in the network namespace of its containers, as root of the user namespace, like
// `dockerd-rootless-setuptool.sh nsenter` but for any state directory. It sets
// ROOTLESSKIT_STATE_DIR, ROOTLESSKIT_PARENT_EUID and ROOTLESSKIT_PARENT_EGID, as RootlessKit does
// for dockerd. It needs nsenter (util-linux).
func (d *Daemon) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	info := d.Info()
	pid := strconv.Itoa(info.ChildPID)
	nsargs := []string{"--user", "--preserve-credentials", "--mount", "--target", pid}
	if info.DetachNetNS {
		// The detached namespace is bound inside the child's mount namespace; reach it through /proc.
		nsargs = append(nsargs, "--net=/proc/"+pid+"/root"+filepath.Join(info.Paths.RootlessKitStateDir, engine.StateNetNS))
	} else {
		nsargs = append(nsargs, "--net")
	}
	cmd := exec.CommandContext(ctx, "nsenter", append(append(nsargs, "--", name), args...)...)
	cmd.Env = append(os.Environ(),
		engine.EnvStateDir+"="+info.Paths.RootlessKitStateDir,
		engine.EnvParentEUID+"="+strconv.Itoa(os.Geteuid()),
		engine.EnvParentEGID+"="+strconv.Itoa(os.Getegid()))
	return cmd
}

// PID is the process id of the process that owns the daemon's tree: the engine helper or the
// rootlesskit binary.
func (d *Daemon) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gen.proc.PID()
}

// Done is closed once the daemon has exited for good, for any reason, and its files are
// released. A restart in place by the watchdog does not close it.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Err returns, after Done is closed, nil if the daemon was stopped by Shutdown or Close, or an
// *ExitError saying which process ended it and how, with the last log lines, if it exited on
// its own or its watchdog stopped it. Before Done it returns nil.
func (d *Daemon) Err() error {
	select {
	case <-d.done:
	default:
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Wait blocks until the daemon has exited and returns Err.
func (d *Daemon) Wait() error {
	<-d.done
	return d.Err()
}

// Health returns the daemon's health as its watchdog last saw it, without probing; its
// Changed channel is closed when a newer one replaces it.
func (d *Daemon) Health() Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.health
	h.Checks = slices.Clone(h.Checks)
	return h
}

// Probe runs the watchdog's checks now and returns the first problem, a *HealthError, or nil.
// It does not change Health. It returns ErrClosed once the daemon has exited.
func (d *Daemon) Probe(ctx context.Context) error {
	select {
	case <-d.done:
		return ErrClosed
	default:
	}
	d.mu.Lock()
	g := d.gen
	d.mu.Unlock()
	if he := d.probe(ctx, g); he != nil {
		return he
	}
	return nil
}

// setHealth changes the health under the lock and wakes those waiting on the old one.
func (d *Daemon) setHealth(change func(*Health)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.health
	old := h.State
	change(&h)
	if h.State != old {
		h.Since = time.Now()
	}
	close(d.changed)
	d.changed = make(chan struct{})
	h.Changed = d.changed
	d.health = h
}

// Shutdown stops the daemon: SIGTERM, which RootlessKit forwards to dockerd (it stops the
// containers and exits), then it waits. If ctx ends first, it kills the whole process tree,
// waits for it, and returns ctx.Err(). It returns ErrClosed if the daemon had already exited.
// A restart in place in progress is abandoned.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.stopping = true
	g := d.gen
	d.mu.Unlock()
	select {
	case <-d.done:
		return ErrClosed
	default:
	}
	d.cancel()
	d.log.Info("stopping daemon")
	if err := g.proc.Signal(sigterm); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
	}
	d.log.Warn("daemon did not stop in time; killing its process tree")
	d.mu.Lock()
	g = d.gen
	d.mu.Unlock()
	if err := g.proc.Kill(); err != nil {
		return err
	}
	<-d.done
	return ctx.Err()
}

// Close shuts the daemon down, allowing it WithStopTimeout (default 15s) before killing it. It
// is idempotent: later calls wait for the first and return its result. A detached daemon
// (WithDetach) or an attached one (Attach) is not stopped: Close lets go of it and returns at
// once; Shutdown stops it.
func (d *Daemon) Close() error {
	if d.lc.detached {
		return d.letGo()
	}
	d.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.grace)
		defer cancel()
		d.closeErr = d.Shutdown(ctx)
		if errors.Is(d.closeErr, ErrClosed) {
			d.closeErr = nil // it had exited already; Err says why
		}
	})
	<-d.done
	return d.closeErr
}
