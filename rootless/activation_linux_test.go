//go:build linux

package rootless

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestActivatorAnswersWhenTheDaemonCannotStart: a connection to an activator whose daemon
// cannot start gets an HTTP 503 whose Docker-style message says why, not a reset.
func TestActivatorAnswersWhenTheDaemonCannotStart(t *testing.T) {
	dir, err := os.MkdirTemp("/var/tmp", "rlsd-act-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	a, err := NewActivator(WithStateDir(filepath.Join(dir, "s")), WithDataRoot(filepath.Join(dir, "d")),
		WithBinaries(Binaries{Dockerd: filepath.Join(dir, "no-dockerd")}))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "a.sock")
	ln, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(sock); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("a second ListenUnix on a served socket: %v, want ErrAlreadyRunning", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := hc.Get("http://docker/_ping")
	if err != nil {
		t.Fatalf("GET through the activator: %v (want an answer)", err)
	}
	var body struct{ Message string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.Message, "did not start") {
		t.Errorf("answer %d %q, want 503 with the launch error", resp.StatusCode, body.Message)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if a.Daemon() != nil || a.Starts() != 0 {
		t.Errorf("daemon %v, %d starts", a.Daemon(), a.Starts())
	}
}

func TestWithIdleStopValidates(t *testing.T) {
	if _, err := NewActivator(WithIdleStop(0)); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("WithIdleStop(0): %v, want ErrInvalidOption", err)
	}
}

// envListenHelper makes the test binary a socket-activated service (TestSystemdListeners).
const envListenHelper = "ROOTLESSD_TEST_LISTEN_HELPER"

// TestSystemdListeners passes a listening socket as systemd does (fd 3, LISTEN_PID,
// LISTEN_FDS) to a process that serves one connection on what SystemdListeners returns.
func TestSystemdListeners(t *testing.T) {
	if os.Getenv(envListenHelper) != "" {
		lns, err := SystemdListeners()
		if err != nil || len(lns) != 1 || os.Getenv("LISTEN_FDS") != "" {
			os.Stdout.WriteString("bad listeners\n")
			os.Exit(1)
		}
		c, err := lns[0].Accept()
		if err != nil {
			os.Exit(1)
		}
		_, _ = c.Write([]byte("served by the activated process\n"))
		c.Close()
		os.Exit(0)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false) // the socket file stays for the activated process
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	// exec keeps the shell's pid, which LISTEN_PID must name.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -test.run='^TestSystemdListeners$'`, exe)
	cmd.Env = append(os.Environ(), envListenHelper+"=1")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails before it has served
	f.Close()
	ln.Close()
	c, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(bufio.NewReader(c))
	c.Close()
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil || string(got) != "served by the activated process\n" {
		t.Errorf("activated process: %v, got %q, said %q", err, got, rest)
	}
}
