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
	"github.com/rootlessd/rootlessd/portdriver"
)

const sigterm = syscall.SIGTERM

// Daemon is a running rootless dockerd. Its methods are safe for concurrent use. It is
// immutable once Launch returns it, apart from its lifecycle.
type Daemon struct {
	info  Info
	proc  *engine.Process
	ports *portdriver.Manager
	sink  *logSink
	log   *slog.Logger
	locks []*os.File // the state dir's and the data root's, held until the tree has exited
	grace time.Duration

	done      chan struct{}
	mu        sync.Mutex
	stopping  bool
	err       error
	closeOnce sync.Once
	closeErr  error
}

func newDaemon(ctx context.Context, p *Plan, proc *engine.Process, sink *logSink, locks []*os.File) (*Daemon, error) {
	d := &Daemon{info: Info{Plan: *p.clone(), FellBack: p.fellBack}, proc: proc, sink: sink, log: p.c.logger, locks: locks,
		grace: p.c.stopTimeout, done: make(chan struct{})}
	pidb, err := os.ReadFile(filepath.Join(p.Paths.RootlessKitStateDir, engine.StateChildPID))
	if err != nil {
		return nil, err
	}
	d.info.ChildPID, _ = strconv.Atoi(string(pidb))
	if d.ports, err = portdriver.NewManager(filepath.Join(p.Paths.RootlessKitStateDir, engine.StateAPISock),
		portdriver.WithHost(p.h.net), portdriver.WithBinder(p.binder)); err != nil {
		return nil, err
	}
	cli, err := d.Client()
	if err != nil {
		d.ports.Close()
		return nil, err
	}
	defer cli.Close()
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	di, err := cli.Info(ictx)
	if err != nil {
		d.ports.Close()
		return nil, fmt.Errorf("docker info: %w", err)
	}
	d.info.ServerVersion, d.info.StorageDriver, d.info.CgroupDriver = di.ServerVersion, di.Driver, di.CgroupDriver
	if !slices.Contains(di.SecurityOptions, "name=rootless") {
		d.ports.Close()
		return nil, fmt.Errorf("the daemon does not report rootless mode (security options %v)", di.SecurityOptions)
	}
	go d.watch()
	return d, nil
}

// watch waits for the process tree to exit, records why, and releases what the daemon held.
func (d *Daemon) watch() {
	<-d.proc.Done()
	d.mu.Lock()
	stopping := d.stopping
	d.mu.Unlock()
	if stopping {
		d.log.Info("daemon stopped")
	} else {
		awaitOutput(d.proc) // the last lines say why
		tail := d.sink.Tail()
		cause, fix := diagnose(tail)
		err := &ExitError{Code: d.proc.ExitCode(), Cause: cause, Fix: fix, Log: tail}
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
		d.log.Error("daemon exited unexpectedly", slog.Int("exit_code", err.Code), slog.String("cause", cause))
	}
	d.ports.Close()
	if err := d.info.Paths.removeRuntimeFiles(); err != nil {
		d.log.Warn("cleanup after daemon exit", slog.Any("error", err))
	}
	for _, f := range d.locks {
		f.Close()
	}
	close(d.done)
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
	i := d.info
	i.Plan = *d.info.Plan.clone()
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
	pid := strconv.Itoa(d.info.ChildPID)
	nsargs := []string{"--user", "--preserve-credentials", "--mount", "--target", pid}
	if d.info.DetachNetNS {
		// The detached namespace is bound inside the child's mount namespace; reach it through /proc.
		nsargs = append(nsargs, "--net=/proc/"+pid+"/root"+filepath.Join(d.info.Paths.RootlessKitStateDir, engine.StateNetNS))
	} else {
		nsargs = append(nsargs, "--net")
	}
	cmd := exec.CommandContext(ctx, "nsenter", append(append(nsargs, "--", name), args...)...)
	cmd.Env = append(os.Environ(),
		engine.EnvStateDir+"="+d.info.Paths.RootlessKitStateDir,
		engine.EnvParentEUID+"="+strconv.Itoa(os.Geteuid()),
		engine.EnvParentEGID+"="+strconv.Itoa(os.Getegid()))
	return cmd
}

// PID is the process id of the process that owns the daemon's tree: the engine helper or the
// rootlesskit binary.
func (d *Daemon) PID() int { return d.proc.PID() }

// Done is closed once the daemon has exited, for any reason, and its files are released.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Err returns, after Done is closed, nil if the daemon was stopped by Shutdown or Close, or an
// *ExitError with its exit status and last log lines if it exited on its own. Before Done it
// returns nil.
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

// Shutdown stops the daemon: SIGTERM, which RootlessKit forwards to dockerd (it stops the
// containers and exits), then it waits. If ctx ends first, it kills the whole process tree,
// waits for it, and returns ctx.Err(). It returns ErrClosed if the daemon had already exited.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	select {
	case <-d.done:
		return ErrClosed
	default:
	}
	d.log.Info("stopping daemon")
	if err := d.proc.Signal(sigterm); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
	}
	d.log.Warn("daemon did not stop in time; killing its process tree")
	if err := d.proc.Kill(); err != nil {
		return err
	}
	<-d.done
	return ctx.Err()
}

// Close shuts the daemon down, allowing it WithStopTimeout (default 15s) before killing it. It
// is idempotent: later calls wait for the first and return its result.
func (d *Daemon) Close() error {
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
