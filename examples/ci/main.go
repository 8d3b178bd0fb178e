// Command ci gives a CI job an ephemeral rootless Docker daemon, uses it, and leaves nothing
// behind:
//
//  1. launch a daemon whose state and data live in fresh directories of their own;
//  2. load an image from a `docker save` archive (no registry needed);
//  3. run a container with a published port and GET through it from the host;
//  4. tear the daemon down;
//  5. remove all data, including files owned by subordinate ids, and exit 0.
//
// Usage:
//
//	ci -image probe.tar -tag rootlessd-probe:latest [-port 80] [-workdir DIR]
//
// Several jobs of one user can run it at once: nothing is shared.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/rootlessd/rootlessd/rootless"
)

func main() {
	rootless.Init()
	image := flag.String("image", "/opt/rootlessd/image/probe.tar", "image archive to load (docker save format)")
	tag := flag.String("tag", "rootlessd-probe:latest", "image to run")
	port := flag.Int("port", 80, "container port to publish")
	workdir := flag.String("workdir", "", "where the job's data root goes (default: a new directory under $HOME/.cache)")
	timeout := flag.Duration("timeout", 3*time.Minute, "bound for the whole job")
	verbose := flag.Bool("v", false, "log the daemon's output from level info (default: warnings)")
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(log, *image, *tag, *port, *workdir, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "ci:", err)
		if r := rootless.Remedy(err); r != "" {
			fmt.Fprintln(os.Stderr, "ci: fix:", r)
		}
		os.Exit(1)
	}
}

func run(log *slog.Logger, image, tag string, port int, workdir string, timeout time.Duration) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	stateDir, dataRoot, err := jobDirs(workdir)
	if err != nil {
		return err
	}
	defer func() {
		// Step 5: the data root holds files owned by subordinate ids; RemoveAll handles them.
		rerr := rootless.RemoveAll(context.Background(), dataRoot)
		if rerr == nil {
			rerr = os.RemoveAll(stateDir)
		}
		if err == nil {
			err = rerr
		}
		fmt.Printf("removed the job's data (%s): %v\n", dataRoot, errOrOK(rerr))
	}()

	start := time.Now()
	d, err := rootless.Launch(ctx,
		rootless.WithStateDir(stateDir),
		rootless.WithDataRoot(dataRoot),
		rootless.WithLogger(log),
		rootless.WithProgress(func(p rootless.Progress) {
			fmt.Printf("launch: %-10s %v\n", p.Stage, p.Elapsed.Round(time.Millisecond))
		}),
	)
	if err != nil {
		return err
	}
	defer func() {
		cerr := d.Close()
		fmt.Printf("daemon stopped: %v\n", errOrOK(cerr))
		if err == nil {
			err = cerr
		}
	}()
	info := d.Info()
	fmt.Printf("daemon ready in %v at %s: dockerd %s, %s engine, %s+%s, MTU %d, storage %s\n",
		time.Since(start).Round(time.Millisecond), d.Host(), info.Dockerd.Version, info.Engine, info.Network.Name(), info.Port.Name(), info.MTU, info.StorageDriver)

	cli, err := d.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := load(ctx, cli, image); err != nil {
		return err
	}
	hostPort, err := freePort()
	if err != nil {
		return err
	}
	id, err := runContainer(ctx, cli, tag, port, hostPort)
	if err != nil {
		return err
	}
	defer cli.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true})
	body, err := get(ctx, fmt.Sprintf("http://127.0.0.1:%d/", hostPort))
	if err != nil {
		return err
	}
	fmt.Printf("GET 127.0.0.1:%d -> container %.12s: %s", hostPort, id, body)
	return nil
}

// jobDirs makes the job's private state directory (short: it holds unix sockets) and its data root.
func jobDirs(workdir string) (state, data string, err error) {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	if state, err = os.MkdirTemp(base, "ci-"); err != nil {
		return "", "", fmt.Errorf("state directory: %w", err)
	}
	if workdir == "" {
		home, _ := os.UserHomeDir()
		workdir = filepath.Join(home, ".cache", "rootlessd-ci")
	}
	if err := os.MkdirAll(workdir, 0o700); err != nil {
		return "", "", err
	}
	if data, err = os.MkdirTemp(workdir, "data-"); err != nil {
		return "", "", err
	}
	return state, data, nil
}

func load(ctx context.Context, cli *client.Client, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	defer f.Close()
	resp, err := cli.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("load %s: %w", path, err)
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func runContainer(ctx context.Context, cli *client.Client, tag string, port, hostPort int) (string, error) {
	p := nat.Port(strconv.Itoa(port) + "/tcp")
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: tag, ExposedPorts: nat.PortSet{p: {}}},
		&container.HostConfig{PortBindings: nat.PortMap{p: {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(hostPort)}}}},
		nil, nil, "")
	if err != nil {
		return "", fmt.Errorf("create container: %w", err)
	}
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return c.ID, fmt.Errorf("start container: %w", err)
	}
	return c.ID, nil
}

// get retries until the container's program listens.
func get(ctx context.Context, url string) (string, error) {
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b), nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("GET %s: %w (last error: %v)", url, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func errOrOK(err error) any {
	if err == nil {
		return "ok"
	}
	return err
}
