package rootless_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/rootless"
)

// badOptions holds one invalid value per option that validates, and the text each error names.
func badOptions(stateDir string) ([]rootless.Option, []string) {
	opts := []rootless.Option{
		rootless.WithStateDir(stateDir), // valid, so that a touched host would show
		rootless.WithDataRoot("data"),
		rootless.WithSocket("docker.sock"),
		rootless.WithExecRoot("exec"),
		rootless.WithPIDFile("docker.pid"),
		rootless.WithRootlessKitStateDir("rk"),
		rootless.WithDaemonConfig("daemon.json"),
		rootless.WithBinaries(rootless.Binaries{Dockerd: "dockerd"}),
		rootless.WithEngine(rootless.Engine(42)),
		rootless.WithNetwork(nil),
		rootless.WithPortDriver(nil),
		rootless.WithSubidSource(nil),
		rootless.WithLogger(nil),
		rootless.WithDaemonOutput(nil),
		rootless.WithProgress(nil),
		rootless.WithStopTimeout(0),
		rootless.WithDockerdArgs("--pidfile=/x"),
		rootless.WithScriptEnv([]string{rootless.EnvScriptNet + "=host"}),
		nil,
	}
	names := []string{"WithDataRoot", "WithSocket", "WithExecRoot", "WithPIDFile", "WithRootlessKitStateDir",
		"WithDaemonConfig", "WithBinaries", "WithEngine", "WithNetwork", "WithPortDriver", "WithSubidSource",
		"WithLogger", "WithDaemonOutput", "WithProgress", "WithStopTimeout", "WithDockerdArgs", "WithScriptEnv", "nil Option"}
	return opts, names
}

// TestInvalidOptionsAllAtOnce checks that Launch and Check report every invalid option in one
// error, each wrapping ErrInvalidOption, before touching the host: the state directory is not
// created, and no host check runs (as root, Check would otherwise report "root").
func TestInvalidOptionsAllAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(context.Context, ...rootless.Option) error
	}{
		{"Launch", func(ctx context.Context, o ...rootless.Option) error {
			d, err := rootless.Launch(ctx, o...)
			if d != nil {
				t.Error("Launch returned a Daemon with an error")
			}
			return err
		}},
		{"Resolve", func(ctx context.Context, o ...rootless.Option) error {
			p, err := rootless.Resolve(ctx, o...)
			if p != nil {
				t.Error("Resolve returned a Plan with an error")
			}
			return err
		}},
		{"Check", func(ctx context.Context, o ...rootless.Option) error {
			rep, err := rootless.Check(ctx, o...)
			if rep != nil {
				t.Error("Check returned a report for invalid options")
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stateDir := filepath.Join(t.TempDir(), "state")
			opts, names := badOptions(stateDir)
			err := tc.call(t.Context(), opts...)
			if !errors.Is(err, rootless.ErrInvalidOption) {
				t.Fatalf("err = %v, want ErrInvalidOption", err)
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("err is %T, want an errors.Join of the option errors", err)
			}
			if got := len(joined.Unwrap()); got != len(names) {
				t.Errorf("%d errors, want one per invalid option (%d):\n%v", got, len(names), err)
			}
			for i, e := range joined.Unwrap() {
				if !errors.Is(e, rootless.ErrInvalidOption) {
					t.Errorf("error %d does not wrap ErrInvalidOption: %v", i, e)
				}
				if i < len(names) && !strings.Contains(e.Error(), names[i]) {
					t.Errorf("error %d = %q, want it to name %s", i, e, names[i])
				}
			}
			if len(diag.List(err)) != 0 {
				t.Errorf("option errors must come alone, without host findings: %v", diag.List(err))
			}
			if _, serr := os.Stat(stateDir); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("%s exists (%v): %s touched the host despite invalid options", stateDir, serr, tc.name)
			}
		})
	}
}
