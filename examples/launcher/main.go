// Command launcher is a drop-in replacement for dockerd-rootless.sh built on the rootlessd SDK.
//
//	launcher [DOCKERD_OPTIONS]
//
// It honours the same environment variables (DOCKERD_ROOTLESS_ROOTLESSKIT_NET, _MTU,
// _PORT_DRIVER, _STATE_DIR, _DISABLE_HOST_LOOPBACK, _DETACH_NETNS, _SLIRP4NETNS_SANDBOX,
// _SLIRP4NETNS_SECCOMP, _FLAGS, and DOCKERD), so existing systemd overrides keep working, and
// passes its arguments to dockerd. It uses the script's layout: the socket is
// $XDG_RUNTIME_DIR/docker.sock. Unlike the script it needs no rootlesskit binary and no
// XDG_RUNTIME_DIR (it falls back to /run/user/UID), validates every variable, and explains
// failures.
//
// When the daemon is ready it prints one line, DOCKER_HOST=unix://..., on stdout. The daemon's
// own output goes to stderr. SIGINT or SIGTERM stops it cleanly; SIGHUP makes dockerd reload
// its configuration (daemon.json), as `systemctl --user reload` asks.
//
// Under systemd (Type=notify, as the unit of rootless/setup has it) it tells the manager
// READY=1 once rootless.Launch has returned, that is once the Docker API answers, and
// STOPPING=1 when it begins to stop. dockerd gets no NOTIFY_SOCKET (rootless removes it from
// its environment), so the readiness systemd sees is the launcher's alone.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/rootlessd/rootlessd/rootless"
)

func main() {
	rootless.Init() // first: this executable is also RootlessKit's helper and child
	os.Exit(run())
}

func run() int {
	args := os.Args[1:]
	if len(args) > 0 && (args[0] == "check" || args[0] == "install" || args[0] == "uninstall") {
		fmt.Fprintf(os.Stderr, "Did you mean 'dockerd-rootless-setuptool.sh %s' ?\n", args[0])
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := []rootless.Option{rootless.WithScriptEnv(os.Environ())}
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" {
		opts = append(opts, rootless.WithStateDir(xdg)) // the script's layout
	}
	pathOpts, rest, err := pathArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "launcher:", err)
		return 1
	}
	opts = append(opts, pathOpts...)
	opts = append(opts, rootless.WithDockerdArgs(rest...), rootless.WithLogger(log), rootless.WithDaemonOutput(os.Stderr))

	// SIGHUP would end this program; one that comes during startup is forwarded once ready.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP)
	// A signal during startup aborts it (Launch rolls back); after that, it stops the daemon.
	ctx, stopStartup := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	d, err := rootless.Launch(ctx, opts...)
	if err == nil {
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM) // before the startup handler goes
	}
	stopStartup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "launcher:", err)
		return 1
	}
	fmt.Println("DOCKER_HOST=" + d.Host())
	notify(daemon.SdNotifyReady + "\nSTATUS=DOCKER_HOST=" + d.Host())

	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				// RootlessKit forwards it to dockerd, which reloads daemon.json.
				if err := signalProcess(d.PID(), syscall.SIGHUP); err != nil {
					fmt.Fprintln(os.Stderr, "launcher: reload:", err)
				}
				continue
			}
			notify(daemon.SdNotifyStopping)
			if err := d.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "launcher: stop:", err)
				return 1
			}
			return 0
		case <-d.Done():
			err := d.Err()
			fmt.Fprintln(os.Stderr, "launcher:", err)
			if ee, ok := errors.AsType[*rootless.ExitError](err); ok && ee.Code > 0 {
				return ee.Code
			}
			return 1
		}
	}
}

// notify sends state to systemd when it started this program with a notification socket
// (NOTIFY_SOCKET); otherwise it does nothing.
func notify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		fmt.Fprintln(os.Stderr, "launcher: sd_notify:", err)
	}
}

// pathArgs turns the dockerd flags that rootless owns as options (people pass them to
// dockerd-rootless.sh) into those options, and returns the other arguments for dockerd.
func pathArgs(args []string) (opts []rootless.Option, rest []string, err error) {
	owned := map[string]func(string) rootless.Option{
		"--data-root":   rootless.WithDataRoot,
		"--exec-root":   rootless.WithExecRoot,
		"--pidfile":     rootless.WithPIDFile,
		"-p":            rootless.WithPIDFile,
		"--config-file": rootless.WithDaemonConfig,
	}
	socketSet := false
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", name)
			}
			i++
			return args[i], nil
		}
		if opt, ok := owned[name]; ok {
			v, err := value()
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, opt(v))
			continue
		}
		if (name == "-H" || name == "--host") && !socketSet {
			v, err := value()
			if err != nil {
				return nil, nil, err
			}
			if sock, ok := strings.CutPrefix(v, "unix://"); ok {
				opts, socketSet = append(opts, rootless.WithSocket(sock)), true // the first unix socket is the daemon's
				continue
			}
			rest = append(rest, name, v)
			continue
		}
		rest = append(rest, args[i])
	}
	return opts, rest, nil
}

// signalProcess sends sig to the process pid.
func signalProcess(pid int, sig os.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(sig)
}
