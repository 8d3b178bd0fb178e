package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/rootless-containers/rootlesskit/v3/cmd/rootlesskit/unshare"
	"github.com/rootless-containers/rootlesskit/v3/pkg/child"
	"github.com/rootless-containers/rootlesskit/v3/pkg/common"
	"github.com/rootless-containers/rootlesskit/v3/pkg/copyup/tmpfssymlink"
	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/portutil"
	"github.com/sirupsen/logrus"
)

var initialized atomic.Bool

// Initialized reports whether Init ran in this process.
func Initialized() bool { return initialized.Load() }

// StartedAsRole reports whether this process was started as one of the engine's roles. If it
// is still running the host program's code, Init was not called first in main: starting
// another engine from here would recurse.
func StartedAsRole() bool { return os.Getenv(envRole) != "" }

// Init dispatches the engine's process roles. In the host process it records that it ran and
// returns. In a helper, RootlessKit child or target process it does that role's work and never
// returns: it exits, or execs the target program.
func Init(d Drivers) {
	initialized.Store(true)
	role := os.Getenv(envRole)
	switch {
	case role == "":
		return
	case filepath.Base(os.Args[0]) == "unshare":
		// RootlessKit's child re-runs its own executable as "unshare -n mount --bind ..." to
		// create the detached network namespace.
		unshare.Main()
		os.Exit(0)
	case os.Getenv(envPipeFD) != "":
		os.Exit(runChild(d))
	case role == roleParent:
		os.Exit(runParent(d))
	case role == roleTarget:
		os.Exit(runTarget())
	}
	fmt.Fprintf(os.Stderr, "rootlessd: unknown engine role %q\n", role)
	os.Exit(2)
}

// setupLogrus points RootlessKit's global logger at stderr, which the host captures. This is
// why RootlessKit runs in processes of its own: here the global belongs to us.
func setupLogrus(id string, debug bool) {
	logrus.SetOutput(os.Stderr)
	logrus.SetFormatter(&prefixFormatter{id: id, Formatter: &logrus.TextFormatter{DisableTimestamp: true}})
	if debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
}

type prefixFormatter struct {
	id string
	logrus.Formatter
}

func (f *prefixFormatter) Format(e *logrus.Entry) ([]byte, error) {
	e.Message = "[rootlesskit:" + f.id + "] " + e.Message
	return f.Formatter.Format(e)
}

func fail(id string, err error) int {
	fmt.Fprintf(os.Stderr, "[rootlesskit:%s] error: %v\n", id, err)
	if code, ok := common.GetExecExitStatus(err); ok {
		return code
	}
	return 1
}

// runParent is the helper process: RootlessKit's parent. It blocks until the target exits.
func runParent(d Drivers) int {
	// RootlessKit starts its child with Pdeathsig, which fires when the forking *thread* exits.
	// The main goroutine stays on the main thread, which lives as long as the process.
	runtime.LockOSThread()
	cfg, err := decodeConfig()
	if err != nil {
		return fail("parent", err)
	}
	setupLogrus("parent", cfg.Debug)
	if err := parent.InitStateDir(cfg.StateDir); err != nil {
		return fail("parent", err)
	}
	nd, pd, err := d.Parent(cfg, logWriter("network"))
	if err != nil {
		return fail("parent", err)
	}
	publish, err := parsePublish(cfg.Publish)
	if err != nil {
		return fail("parent", err)
	}
	opt := parent.Opt{
		PublishPorts:             publish,
		PipeFDEnvKey:             envPipeFD,
		ChildUseActivationEnvKey: envActivation,
		StateDir:                 cfg.StateDir,
		StateDirEnvKey:           EnvStateDir,
		ParentEUIDEnvKey:         EnvParentEUID,
		ParentEGIDEnvKey:         EnvParentEGID,
		NetworkDriver:            nd,
		PortDriver:               pd,
		CreatePIDNS:              cfg.PIDNS,
		DetachNetNS:              cfg.DetachNetNS,
		Propagation:              cfg.Propagation,
		SubidSource:              parent.SubidSource(cfg.SubidSource),
	}
	if err := parent.Parent(opt); err != nil {
		return fail("parent", err)
	}
	return 0
}

// parsePublish parses ports in RootlessKit's --publish syntax, e.g. 127.0.0.1:8080:80/tcp.
func parsePublish(specs []string) ([]port.Spec, error) {
	var out []port.Spec
	for _, s := range specs {
		sp, err := portutil.ParsePortSpec(s)
		if err != nil {
			return nil, fmt.Errorf("publish %q: %w", s, err)
		}
		if err := portutil.ValidatePortSpec(*sp, nil); err != nil {
			return nil, fmt.Errorf("publish %q: %w", s, err)
		}
		out = append(out, *sp)
	}
	return out, nil
}

// runChild is RootlessKit's child, inside the new user and mount namespaces.
func runChild(d Drivers) int {
	cfg, err := decodeConfig()
	if err != nil {
		return fail("child ", err)
	}
	setupLogrus("child ", cfg.Debug)
	// The target is this executable once more; its role travels in the environment, which
	// RootlessKit passes on (minus its pipe key).
	os.Setenv(envRole, roleTarget)
	nd, pd, err := d.Child(cfg, logWriter("port"))
	if err != nil {
		return fail("child ", err)
	}
	opt := child.Opt{
		PipeFDEnvKey:              envPipeFD,
		RunActivationHelperEnvKey: envActivationRun,
		ChildUseActivationEnvKey:  envActivation,
		StateDirEnvKey:            EnvStateDir,
		TargetCmd:                 []string{"/proc/self/exe"},
		NetworkDriver:             nd,
		PortDriver:                pd,
		CopyUpDriver:              tmpfssymlink.NewChildDriver(),
		CopyUpDirs:                cfg.CopyUp,
		DetachNetNS:               cfg.DetachNetNS,
		MountProcfs:               cfg.PIDNS,
		Reaper:                    cfg.PIDNS,
		Propagation:               cfg.Propagation,
	}
	if err := child.Child(opt); err != nil {
		return fail("child ", err)
	}
	return 0
}

// runTarget prepares the namespace and execs the target program.
func runTarget() int {
	cfg, err := decodeConfig()
	if err != nil {
		return fail("target", err)
	}
	if cfg.Target.Prepare {
		if err := prepare(cfg); err != nil {
			return fail("target", fmt.Errorf("prepare namespace: %w", err))
		}
	}
	if cfg.Target.Dir != "" {
		if err := os.Chdir(cfg.Target.Dir); err != nil {
			return fail("target", err)
		}
	}
	env := targetEnv(cfg.Target.Env, os.Environ())
	err = syscall.Exec(cfg.Target.Argv[0], cfg.Target.Argv, env)
	return fail("target", fmt.Errorf("exec %s: %w", cfg.Target.Argv[0], err))
}

// targetEnv is the target's own environment plus RootlessKit's documented variables, which
// dockerd reads to find RootlessKit's API and the parent's ids.
func targetEnv(own, inherited []string) []string {
	env := slices.Clone(own)
	for _, kv := range inherited {
		if strings.HasPrefix(kv, "ROOTLESSKIT_") {
			env = append(env, kv)
		}
	}
	return env
}

type logWriter string

func (w logWriter) Write(p []byte) (int, error) {
	logrus.Debugf("%s: %s", string(w), strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
