package rootless_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"slices"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/rootless"
)

// Launch a daemon and point the docker CLI at it. This example only compiles: running it needs
// a host that can run rootless Docker, and rootless.Init at the top of main.
func ExampleLaunch() {
	ctx := context.Background()
	d, err := rootless.Launch(ctx,
		rootless.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))),
		rootless.WithStateDir(os.ExpandEnv("$HOME/.local/state/rootlessd")),
	)
	if err != nil {
		log.Fatalf("%v\nfix: %s", err, rootless.Remedy(err))
	}
	defer d.Close()

	cmd := exec.Command("docker", "info")
	cmd.Env = append(os.Environ(), d.Env()...)
	cmd.Stdout = os.Stdout
	if err := cmd.Run(); err != nil {
		log.Print(err)
	}
}

// Remedy finds the fix anywhere in an error tree, such as the errors.Join of findings that
// Resolve returns.
func ExampleRemedy() {
	err := errors.Join(
		errors.New("something without a fix"),
		fmt.Errorf("check host: %w", &diag.Finding{
			ID:       idmap.IDNewuidmapMissing,
			Severity: diag.Error,
			Detail:   "newuidmap not found: RootlessKit needs it to map more than one id",
			Fix:      "sudo apt-get install -y uidmap",
		}),
	)
	fmt.Println(rootless.Remedy(err))
	fmt.Printf("%q\n", rootless.Remedy(errors.New("no fix known")))
	// Output:
	// sudo apt-get install -y uidmap
	// ""
}

// Every finding of every package is a *diag.Finding with a stable ID: errors.Is matches it by
// ID, errors.AsType finds it in a wrapped error.
func ExampleIDs() {
	err := fmt.Errorf("launch: %w", &diag.Finding{
		ID:       idmap.IDSubuidMissing,
		Severity: diag.Error,
		Detail:   `no entry for "alice" in /etc/subuid`,
		Evidence: "/etc/subuid",
		Fix:      "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice",
	})
	fmt.Println(errors.Is(err, idmap.IDSubuidMissing))
	if f, ok := errors.AsType[*diag.Finding](err); ok {
		fmt.Println(f.Severity, f.ID, "|", f.Evidence)
		fmt.Println("fix:", f.Fix)
	}
	fmt.Println(slices.Contains(rootless.AllIDs(), idmap.IDSubuidMissing), slices.Contains(rootless.AllIDs(), rootless.IDStateDirUnsafe))
	// Output:
	// true
	// error idmap.subuid-missing | /etc/subuid
	// fix: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice
	// true true
}

// WithScriptEnv reads the variables of a systemd drop-in written for dockerd-rootless.sh, and
// reports every value it cannot use. Option errors come back before anything on the host is
// touched.
func ExampleWithScriptEnv() {
	env := []string{
		"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=host",
		"DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=1500",
		"DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS=auto",
	}
	_, err := rootless.Resolve(context.Background(), rootless.WithScriptEnv(env))
	fmt.Println(errors.Is(err, rootless.ErrInvalidOption))
	fmt.Println(err)
	// Output:
	// true
	// rootless: invalid option: WithScriptEnv: DOCKERD_ROOTLESS_ROOTLESSKIT_NET: Unsupported RootlessKit network driver: host (dockerd needs a network namespace)
	// rootless: invalid option: WithScriptEnv: DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS: Unknown DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS value: auto
}

// A TCP API needs TLS verification; WithDockerdArgs refuses it otherwise.
func ExampleWithDockerdArgs() {
	_, err := rootless.Launch(context.Background(), rootless.WithDockerdArgs("-H", "tcp://0.0.0.0:2376"))
	fmt.Println(err)
	// Output:
	// rootless: invalid option: WithDockerdArgs: API on tcp://0.0.0.0:2376 without --tlsverify: anyone who reaches it is root-equivalent for this user; add --tlsverify --tlscacert=ca.pem --tlscert=cert.pem --tlskey=key.pem
}

// A StartError carries the stage that failed, the diagnosis of a known failure and the last
// lines the daemon printed.
func ExampleStartError() {
	var err error = &rootless.StartError{
		Stage: rootless.StageNamespaces,
		Cause: "user.max_user_namespaces is too small",
		Fix:   "add user.max_user_namespaces=28633 to /etc/sysctl.d/51-rootless.conf and run: sudo sysctl --system",
		Log:   []string{"[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: no space left on device"},
		Err:   errors.New("the daemon's process tree exited with status 1"),
	}
	if se, ok := errors.AsType[*rootless.StartError](err); ok {
		fmt.Println("stage:", se.Stage)
		fmt.Println("cause:", se.Cause)
		fmt.Println("last line:", se.Log[len(se.Log)-1])
	}
	// Output:
	// stage: namespaces
	// cause: user.max_user_namespaces is too small
	// last line: [rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: no space left on device
}
