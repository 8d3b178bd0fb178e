// Command devtool keeps one rootless Docker daemon per project directory, the way an IDE or a
// dev tool wants it: the daemon outlives the tool (and its crashes), the next run of the tool
// finds it again, and it starts only when needed.
//
//	devtool [-C DIR] [-path DIRS] [-idle D] COMMAND
//
// Commands:
//
//	env     print the environment for the project's daemon (export DOCKER_HOST=...), starting
//	        it if none runs: eval "$(devtool env)"
//	up      the same, without printing the environment
//	status  say whether the project's daemon runs, and where; exit status 3 if it does not
//	stop    stop the project's daemon; nothing is left running
//	logs    print the daemon's log (STATEDIR/daemon.log)
//	serve   serve the project's socket and start the daemon on its first connection
//	        (rootless.Activator); with -idle, stop it after D without use. Under systemd
//	        it serves the socket its socket unit passes (rootless/setup.SocketActivation)
//
// DIR is the project directory (default: the working directory). Its daemon's state is in
// $XDG_RUNTIME_DIR/rootlessd-dev/KEY and its images in ~/.local/share/rootlessd-dev/KEY, KEY
// being a hash of DIR's absolute path; `serve` listens on STATEDIR/activated.sock. DIRS are
// directories searched first for dockerd and the other programs (colon-separated).
//
// The daemon is launched detached (rootless.WithDetach): devtool exits and the daemon runs on.
// Each later command attaches to it (rootless.Attach), which checks that the recorded process
// is still the daemon. `serve` runs the daemon as its own child instead: it stops with serve.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rootlessd/rootlessd/rootless"
)

func main() {
	rootless.Init() // first: this executable is also RootlessKit's helper and child
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// project is one project directory's daemon layout.
type project struct {
	dir, state, data string
	path             []string
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devtool", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("C", ".", "the project directory")
	path := fs.String("path", "", "directories searched first for dockerd and the other programs (colon-separated)")
	idle := fs.Duration("idle", 0, "serve: stop the daemon after this long without use (0: never)")
	verbose := fs.Bool("v", false, "log what happens to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: devtool [-C DIR] [-path DIRS] [-idle D] env|up|status|stop|logs|serve")
		return 2
	}
	p, err := newProject(*dir, *path)
	if err != nil {
		fmt.Fprintln(stderr, "devtool:", err)
		return 1
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch fs.Arg(0) {
	case "env", "up":
		d, started, err := p.ensure(ctx, log)
		if err != nil {
			fmt.Fprintln(stderr, "devtool:", err)
			return 1
		}
		defer d.Close() // lets go: the daemon runs on
		if started {
			fmt.Fprintf(stderr, "devtool: started the daemon for %s (%s)\n", p.dir, d.Info().ServerVersion)
		}
		if fs.Arg(0) == "env" {
			for _, kv := range d.Env() {
				k, v, _ := strings.Cut(kv, "=")
				fmt.Fprintf(stdout, "export %s=%s\n", k, shellQuote(v))
			}
		}
		return 0
	case "status":
		d, err := rootless.Attach(ctx, p.options(log)...)
		if errors.Is(err, rootless.ErrNotRunning) {
			fmt.Fprintf(stdout, "not running (project %s)\n", p.dir)
			return 3
		}
		if err != nil {
			fmt.Fprintln(stderr, "devtool:", err)
			return 1
		}
		defer d.Close()
		i := d.Info()
		fmt.Fprintf(stdout, "running (project %s)\n  pid %d, docker %s, %s, network %s, ports %s\n  DOCKER_HOST=%s\n  data root %s\n",
			p.dir, d.PID(), i.ServerVersion, i.RootlessKit, name(i.Network), name(i.Port), d.Host(), i.Paths.DataRoot)
		return 0
	case "stop":
		d, err := rootless.Attach(ctx, p.options(log)...)
		if errors.Is(err, rootless.ErrNotRunning) {
			fmt.Fprintf(stdout, "not running (project %s)\n", p.dir)
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, "devtool:", err)
			return 1
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := d.Shutdown(sctx); err != nil {
			fmt.Fprintln(stderr, "devtool: stop:", err)
			return 1
		}
		fmt.Fprintf(stdout, "stopped (project %s)\n", p.dir)
		return 0
	case "logs":
		f, err := os.Open(filepath.Join(p.state, "daemon.log"))
		if err != nil {
			fmt.Fprintln(stderr, "devtool: no log yet:", err)
			return 1
		}
		defer f.Close()
		_, _ = io.Copy(stdout, f)
		return 0
	case "serve":
		return p.serve(ctx, *idle, log, stdout, stderr)
	}
	fmt.Fprintf(stderr, "devtool: unknown command %q (env, up, status, stop, logs, serve)\n", fs.Arg(0))
	return 2
}

func newProject(dir, path string) (*project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("project directory %s: not a directory (%v)", abs, err)
	}
	sum := sha256.Sum256([]byte(abs))
	key := hex.EncodeToString(sum[:6])
	run := os.Getenv("XDG_RUNTIME_DIR")
	if !filepath.IsAbs(run) {
		run = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	data := os.Getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(data) {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("no home directory for the images: %w", err)
		}
		data = filepath.Join(home, ".local", "share")
	}
	p := &project{dir: abs, state: filepath.Join(run, "rootlessd-dev", key), data: filepath.Join(data, "rootlessd-dev", key)}
	if path != "" {
		p.path = filepath.SplitList(path)
	}
	if err := os.MkdirAll(filepath.Dir(p.state), 0o700); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *project) options(log *slog.Logger) []rootless.Option {
	return []rootless.Option{rootless.WithStateDir(p.state), rootless.WithDataRoot(p.data),
		rootless.WithBinaries(rootless.Binaries{Path: p.path}), rootless.WithLogger(log)}
}

// ensure attaches to the project's daemon, or launches one (detached) if none runs. Two tools
// racing to launch: the loser's Launch fails with ErrAlreadyRunning and it attaches instead.
func (p *project) ensure(ctx context.Context, log *slog.Logger) (*rootless.Daemon, bool, error) {
	for attempt := 0; ; attempt++ {
		d, err := rootless.Attach(ctx, p.options(log)...)
		if err == nil {
			return d, false, nil
		}
		if !errors.Is(err, rootless.ErrNotRunning) {
			return nil, false, err
		}
		d, err = rootless.Launch(ctx, append(p.options(log), rootless.WithDetach(true))...)
		if err == nil {
			return d, true, nil
		}
		if !errors.Is(err, rootless.ErrAlreadyRunning) || attempt >= 60 {
			return nil, false, err
		}
		select { // another tool is launching it: attach once it is ready
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// serve runs the activator on the socket systemd passed, or on STATEDIR/activated.sock.
func (p *project) serve(ctx context.Context, idle time.Duration, log *slog.Logger, stdout, stderr io.Writer) int {
	opts := p.options(log)
	if idle > 0 {
		opts = append(opts, rootless.WithIdleStop(idle))
	}
	a, err := rootless.NewActivator(opts...)
	if err != nil {
		fmt.Fprintln(stderr, "devtool:", err)
		return 1
	}
	lns, err := rootless.SystemdListeners()
	if err != nil {
		fmt.Fprintln(stderr, "devtool:", err)
		return 1
	}
	var ln net.Listener
	switch len(lns) {
	case 0:
		if err := os.MkdirAll(p.state, 0o700); err != nil {
			fmt.Fprintln(stderr, "devtool:", err)
			return 1
		}
		if ln, err = rootless.ListenUnix(filepath.Join(p.state, "activated.sock")); err != nil {
			fmt.Fprintln(stderr, "devtool:", err)
			return 1
		}
	case 1:
		ln = lns[0]
	default:
		fmt.Fprintf(stderr, "devtool: systemd passed %d sockets; the socket unit must have one ListenStream=\n", len(lns))
		return 1
	}
	fmt.Fprintf(stdout, "DOCKER_HOST=unix://%s\n", ln.Addr())
	if err := a.Serve(ctx, ln); err != nil {
		fmt.Fprintln(stderr, "devtool:", err)
		return 1
	}
	return 0
}

func name(d interface{ Name() string }) string {
	if d == nil || fmt.Sprint(d) == "<nil>" {
		return "none"
	}
	return d.Name()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
