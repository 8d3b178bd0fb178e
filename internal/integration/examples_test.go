//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// example returns the path of a built example program (hack/test builds them into
// $ROOTLESSD_EXAMPLES).
func example(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(os.Getenv("ROOTLESSD_EXAMPLES"), name)
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("example %s not built (%v); run hack/test, or go build -o DIR ./examples/... and set ROOTLESSD_EXAMPLES=DIR", name, err)
		if os.Getenv(testbed.EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// TestLauncherIsADropIn runs examples/launcher as dockerd-rootless.sh would be run: with the
// script's environment variables and a dockerd flag as argument. It must print one
// DOCKER_HOST line when ready, serve a published port, and stop cleanly on SIGTERM.
func TestLauncherIsADropIn(t *testing.T) {
	bed := testbed.Require(t)
	bin := example(t, "launcher")
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			u := bed.Self()
			xdg := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
			data := testbed.ScratchDir(t, bed, stack, u.Home)
			cmd := exec.Command(bin, "--data-root", data)
			cmd.Env = []string{"HOME=" + u.Home, "USER=" + u.Name, "XDG_RUNTIME_DIR=" + xdg, "PATH=" + stack.Path(),
				"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=gvisor-tap-vsock", "DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=builtin"}
			var log testbed.LockedBuffer
			cmd.Stderr = &log
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }() // the only Wait; it also finishes copying stderr
			defer func() {
				_ = cmd.Process.Kill()
				<-done
				if t.Failed() {
					t.Logf("launcher stderr:\n%s", log.String())
				}
			}()
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("no DOCKER_HOST line: %v", err)
			}
			if want := "DOCKER_HOST=unix://" + xdg + "/docker.sock\n"; line != want {
				t.Fatalf("stdout %q, want %q (the script's socket path)", line, want)
			}
			cli := testbed.Client(t, strings.TrimPrefix(strings.TrimSpace(line), "DOCKER_HOST="))
			testbed.LoadImage(t, cli, bed)
			port := testbed.FreePort(t)
			testbed.RunProbe(t, cli, bed, port, 80)
			if body := testbed.Get(t, fmt.Sprintf("http://127.0.0.1:%d/", port), time.Minute); body != testbed.ProbeBody {
				t.Fatalf("body %q", body)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				done <- err // for the deferred cleanup
				if err != nil {
					t.Fatalf("launcher exited with %v after SIGTERM, want 0", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("launcher did not exit within a minute of SIGTERM")
			}
			testbed.AssertNoProcesses(t, 10*time.Second)
		})
	}
}
