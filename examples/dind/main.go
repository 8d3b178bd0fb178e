// Command dind is the entrypoint of a Docker-in-Docker image whose inner daemon is rootless, in
// the role of docker:<version>-dind-rootless, built on the rootlessd SDK. It runs as an
// unprivileged user of the image (uid 1000 in the example image) and starts dockerd through
// rootless.Launch.
//
//	dind [--data-root DIR] [--socket PATH] [--dockerd-flag FLAG]... [-- COMMAND [ARG]...]
//
// With a COMMAND it runs it with the daemon's environment (DOCKER_HOST, and
// TESTCONTAINERS_HOST_OVERRIDE, since a container has a /.dockerenv), stops the daemon and
// exits with the command's status: a CI job in one container. Without, it prints the
// environment and serves until SIGTERM, for a job container that shares the socket (--socket
// on a shared volume). When the image has no iptables it passes --iptables=false, as Docker's
// tool does with --skip-iptables: containers of the inner daemon then get no NAT.
//
// # The image
//
// internal/integration/dind_test.go builds it from files of the host: this program as the
// entrypoint, dockerd, containerd, containerd-shim-runc-v2, runc and docker-proxy, setuid
// newuidmap and newgidmap, util-linux's nsenter, unshare and mount (RootlessKit runs them),
// iproute2's ip, busybox, the docker CLI, each with the shared libraries ldd names, and a user
// "rootless" (1000); then `docker import` with USER 1000:1000, HOME, XDG_RUNTIME_DIR=/run/user/1000,
// a VOLUME for the data root and this program as ENTRYPOINT. No network program is needed: the
// daemon chooses RootlessKit's in-process gvisor-tap-vsock.
//
// # What it needs from the outer runtime
//
// Today, --privileged (securityContext.privileged in Kubernetes). Measured inside a rootless
// daemon of ours, the parts that matter are:
//   - /dev/net/tun, for the network driver's tap device (without it, Check refuses to start);
//   - no seccomp filter: Docker's default profile denies the user namespace RootlessKit
//     creates ("fork/exec /proc/self/exe: operation not permitted"), and no AppArmor profile;
//   - no masked /proc and /sys paths (systempaths=unconfined): the kernel lets a user namespace
//     mount a new procfs, the inner PID namespace's, only when no part of the current one is
//     covered;
//   - CAP_SYS_ADMIN: without it newuidmap cannot write the inner namespace's id map
//     ("write to uid_map failed: Operation not permitted").
//
// `--device /dev/net/tun --security-opt seccomp=unconfined --security-opt apparmor=unconfined
// --security-opt systempaths=unconfined --cap-add SYS_ADMIN` is enough, and narrower than
// --privileged (no host devices, default capabilities otherwise). pod.yaml is a Kubernetes Pod
// for CI fleets that runs it as a sidecar of a job; it has not run on a cluster.
//
// The inner daemon also needs a subordinate id range inside the container (the example image
// has rootless:2000:63536 in /etc/subuid and /etc/subgid, all within the 65536 ids of a rootless
// outer daemon), setuid newuidmap and newgidmap in the image, and its data root on a volume:
// overlayfs cannot stack on the container's own overlay root.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/rootlessd/rootlessd/rootless"
)

type listFlag []string

func (l *listFlag) String() string     { return fmt.Sprint(*l) }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	rootless.Init() // first: this executable is also RootlessKit's helper and child
	os.Exit(run())
}

func run() int {
	home, _ := os.UserHomeDir()
	dataRoot := flag.String("data-root", filepath.Join(home, ".local", "share", "docker"), "the inner daemon's data root (mount a volume here)")
	socket := flag.String("socket", "", "the API socket (default: $XDG_RUNTIME_DIR/docker.sock)")
	startTimeout := flag.Duration("start-timeout", 2*time.Minute, "how long the daemon may take to start")
	var dockerdFlags listFlag
	flag.Var(&dockerdFlags, "dockerd-flag", "a flag for dockerd (repeatable)")
	flag.Parse()

	stateDir := os.Getenv("XDG_RUNTIME_DIR")
	if stateDir == "" {
		stateDir = filepath.Join("/run/user", strconv.Itoa(os.Getuid()))
	}
	opts := []rootless.Option{rootless.WithStateDir(stateDir), rootless.WithDataRoot(*dataRoot),
		rootless.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))}
	if *socket != "" {
		opts = append(opts, rootless.WithSocket(*socket))
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		fmt.Fprintln(os.Stderr, "dind: no iptables in the image: dockerd runs with --iptables=false")
		dockerdFlags = append(dockerdFlags, "--iptables=false")
	}
	opts = append(opts, rootless.WithDockerdArgs(dockerdFlags...))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, *startTimeout) // an entrypoint must not hang
	d, err := rootless.Launch(startCtx, opts...)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dind:", err)
		return 1
	}
	defer d.Close()
	for _, kv := range d.Env() {
		fmt.Println(kv)
	}
	if flag.NArg() == 0 {
		select {
		case <-ctx.Done():
			return 0
		case <-d.Done():
			fmt.Fprintln(os.Stderr, "dind:", d.Err())
			return 1
		}
	}
	cmd := exec.CommandContext(ctx, flag.Arg(0), flag.Args()[1:]...)
	cmd.Env = append(os.Environ(), d.Env()...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	if cerr := d.Close(); cerr != nil {
		fmt.Fprintln(os.Stderr, "dind: stop:", cerr)
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dind:", err)
		return 127
	}
	return 0
}
