//go:build linux

package rootless

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/docker/docker/api/types/container"
)

// Activator serves a Docker API socket for a daemon that starts on the first connection, the
// way systemd's socket activation does, without systemd: the socket exists (and accepts) before
// the daemon; the first connection starts it with the Activator's options ([Launch]), every
// connection waits until the Docker API answers, and is then spliced to the daemon's own socket
// byte for byte, so that a client sees one answer, never a reset, also when several connect at
// once during start-up. With [WithIdleStop] the daemon stops again when idle.
//
// The activator's socket must not be the daemon's own (WithSocket, default STATEDIR/docker.sock):
// clients use the activator's, e.g. DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock. Only
// connections through it count as activity. Under systemd, [SystemdListeners] returns the socket
// a socket unit (rootless/setup's, ListenStream=) passed to the service.
//
// If a detached daemon ([WithDetach]) already runs for the state directory, the activator
// attaches to it instead (and its Close at the end of Serve lets go of it).
//
// A connection that comes while the daemon cannot start gets an HTTP 503 answer whose JSON
// message (the Docker API's error form, which docker prints) is the launch error.
type Activator struct {
	opts []Option
	c    *config
	log  *slog.Logger

	mu       sync.Mutex
	d        *Daemon
	starting *startAttempt
	stopping chan struct{} // closed when an idle stop has finished
	active   int           // connections spliced to d right now
	last     time.Time     // when the last connection ended (or d started)
	starts   int
	stops    int
	conns    sync.WaitGroup
}

type startAttempt struct {
	done chan struct{}
	d    *Daemon
	err  error
}

// NewActivator checks the options (Launch's, and WithIdleStop) and returns an Activator that
// has started nothing yet.
func NewActivator(opts ...Option) (*Activator, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Activator{opts: opts, c: c, log: c.logger}, nil
}

// SystemdListeners returns the sockets systemd passed to this process (sd_listen_fds:
// LISTEN_PID, LISTEN_FDS, file descriptors from 3), for Activator.Serve in a service started by
// a socket unit. It unsets the variables, so that nothing started later takes them; nil without
// socket activation.
func SystemdListeners() ([]net.Listener, error) {
	return activation.Listeners()
}

// Serve accepts connections on ln until ctx ends, then closes ln, stops the daemon if it runs
// (Close: a detached one keeps running) and returns nil once every connection has ended. It
// returns the accept error if ln fails.
func (a *Activator) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stopper sync.WaitGroup
	if a.c.idleStop > 0 {
		stopper.Go(func() { a.idleLoop(ctx) })
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var err error
	for {
		conn, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("rootless: activator: accept: %w", aerr)
			}
			break
		}
		a.conns.Go(func() { a.handle(ctx, conn) })
	}
	cancel()
	stopper.Wait()
	a.conns.Wait()
	a.mu.Lock()
	d, att := a.d, a.starting
	a.d = nil
	a.mu.Unlock()
	if att != nil {
		<-att.done // its Launch saw ctx end and rolled back, or finished
		d = att.d
	}
	if d != nil {
		if cerr := d.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// Daemon is the daemon the activator runs now, nil while it waits for a connection.
func (a *Activator) Daemon() *Daemon {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.d
}

// Starts is how many times a connection started the daemon; IdleStops how many times it was
// stopped for being idle.
func (a *Activator) Starts() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.starts
}

// IdleStops is how many times the daemon was stopped for being idle.
func (a *Activator) IdleStops() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stops
}

// handle waits for the daemon and splices conn to its socket.
func (a *Activator) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	d, err := a.acquire(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("activator: the daemon did not start", slog.Any("error", err))
		}
		answerError(conn, err)
		return
	}
	defer a.releaseConn()
	up, err := net.Dial("unix", d.SocketPath())
	if err != nil {
		answerError(conn, fmt.Errorf("rootless: activator: connect to the daemon: %w", err))
		return
	}
	defer up.Close()
	splice(conn, up)
}

// acquire returns the running daemon, starting it if none runs, and counts a connection on it.
func (a *Activator) acquire(ctx context.Context) (*Daemon, error) {
	for {
		a.mu.Lock()
		if d := a.d; d != nil {
			select {
			case <-d.Done(): // it died: the next connection starts a new one
				a.log.Warn("activator: the daemon had exited", slog.Any("error", d.Err()))
				a.d = nil
				a.mu.Unlock()
				continue
			default:
			}
			a.active++
			a.mu.Unlock()
			return d, nil
		}
		if ch := a.stopping; ch != nil {
			a.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		att := a.starting
		if att == nil {
			att = &startAttempt{done: make(chan struct{})}
			a.starting = att
			go a.start(ctx, att)
		}
		a.mu.Unlock()
		select {
		case <-att.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if att.err != nil {
			return nil, att.err
		}
	}
}

// start launches the daemon for one start attempt; everyone who waits for it sees its result.
func (a *Activator) start(ctx context.Context, att *startAttempt) {
	began := time.Now()
	d, err := Launch(ctx, a.opts...)
	if errors.Is(err, ErrAlreadyRunning) {
		// A detached daemon (WithDetach) of this state directory runs already: serve that one.
		if ad, aerr := Attach(ctx, a.opts...); aerr == nil {
			d, err = ad, nil
		}
	}
	a.mu.Lock()
	a.starting = nil
	att.d, att.err = d, err
	if err == nil {
		a.d = d // Serve closes it if ctx has ended meanwhile
		a.starts++
		a.last = time.Now()
	}
	a.mu.Unlock()
	close(att.done)
	if err == nil {
		a.log.Info("activator: daemon started by a connection", slog.Duration("startup", time.Since(began)))
	}
}

func (a *Activator) releaseConn() {
	a.mu.Lock()
	a.active--
	a.last = time.Now()
	a.mu.Unlock()
}

// idleLoop stops the daemon once it has been idle for the WithIdleStop duration.
func (a *Activator) idleLoop(ctx context.Context) {
	idle := a.c.idleStop
	tick := min(max(idle/4, 50*time.Millisecond), 5*time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(tick):
		}
		a.mu.Lock()
		d, last := a.d, a.last
		quiet := d != nil && a.active == 0 && time.Since(last) >= idle
		a.mu.Unlock()
		if !quiet {
			continue
		}
		if n, err := runningContainers(ctx, d); err != nil || n > 0 {
			a.mu.Lock()
			if a.d == d {
				a.last = time.Now() // a running container (or a daemon that does not answer) is not idle
			}
			a.mu.Unlock()
			continue
		}
		a.mu.Lock()
		if a.d != d || a.active != 0 || !a.last.Equal(last) {
			a.mu.Unlock()
			continue // a connection came meanwhile
		}
		ch := make(chan struct{})
		a.d, a.stopping = nil, ch
		a.mu.Unlock()
		a.log.Info("activator: stopping the idle daemon", slog.Duration("idle", time.Since(last)))
		if err := d.shutdownNow(); err != nil {
			a.log.Warn("activator: idle stop", slog.Any("error", err))
		}
		a.mu.Lock()
		a.stopping = nil
		a.stops++
		a.mu.Unlock()
		close(ch)
	}
}

// shutdownNow stops d whatever its kind: Close for a daemon of ours, Shutdown for a detached one.
func (d *Daemon) shutdownNow() error {
	ctx, cancel := context.WithTimeout(context.Background(), d.grace)
	defer cancel()
	err := d.Shutdown(ctx)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// runningContainers counts d's running containers.
func runningContainers(ctx context.Context, d *Daemon) (int, error) {
	cli, err := d.Client()
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cs, err := cli.ContainerList(ctx, container.ListOptions{})
	return len(cs), err
}

// splice copies both ways until both directions have ended; a half close is passed on.
func splice(client, daemon net.Conn) {
	var wg sync.WaitGroup
	one := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Go(func() { one(daemon, client) })
	one(client, daemon)
	wg.Wait()
}

// answerError answers a waiting client with HTTP 503 and err as the Docker API's error body.
// It reads the client's request first (its head and up to 1 MiB of body): a client still
// writing it when the answer comes and the connection closes gets EPIPE instead of the answer,
// which a launch that fails at once (a missing dockerd) made happen.
func answerError(conn net.Conn, err error) {
	body, _ := json.Marshal(map[string]string{"message": "rootlessd: the Docker daemon did not start: " + err.Error()})
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if req, rerr := http.ReadRequest(bufio.NewReader(conn)); rerr == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
		req.Body.Close()
	}
	fmt.Fprintf(conn, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// ListenUnix creates the activator's unix socket at path (mode 0600 through a umask-free
// chmod), replacing a stale socket file nobody serves. A live socket is ErrAlreadyRunning.
func ListenUnix(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%w: something already serves %s", ErrAlreadyRunning, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("rootless: remove stale socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("rootless: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
