//go:build linux

package engine

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/rootless-containers/rootlesskit/v3/cmd/rootlesskit/unshare"
	"github.com/rootless-containers/rootlesskit/v3/pkg/child"
	"github.com/rootless-containers/rootlesskit/v3/pkg/common"
	"github.com/rootless-containers/rootlesskit/v3/pkg/copyup"
	"github.com/rootless-containers/rootlesskit/v3/pkg/copyup/tmpfssymlink"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
	"github.com/sirupsen/logrus"
)

// Init dispatches the engine's process roles. In the host process it records that it ran and
// returns. In a helper, RootlessKit child or target process it does that role's work and never
// returns: it exits, or execs the target program.
func Init() {
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
		os.Exit(runChild())
	case role == roleParent:
		os.Exit(runParent())
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
func runParent() int {
	// RootlessKit starts its child with Pdeathsig, which fires when the forking *thread* exits.
	// The main goroutine stays on the main thread, which lives as long as the process.
	runtime.LockOSThread()
	owner := os.Getppid()
	cfg, err := readSpec()
	if err != nil {
		return fail("parent", err)
	}
	setupLogrus("parent", cfg.Debug)
	if !cfg.Debug {
		releaseDecoderTables()
	}
	go onHostDeath(owner, cfg.StateDir)
	if err := parent.InitStateDir(cfg.StateDir); err != nil {
		return fail("parent", err)
	}
	nd, pd, err := parentDrivers(cfg, logWriter("network"))
	if err != nil {
		return fail("parent", err)
	}
	var publish []port.Spec
	for _, p := range cfg.Publish {
		publish = append(publish, p.RootlessKit())
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

// runChild is RootlessKit's child, inside the new user and mount namespaces.
func runChild() int {
	cfg, err := readSpec()
	if err != nil {
		return fail("child ", err)
	}
	setupLogrus("child ", cfg.Debug)
	if !cfg.Debug {
		releaseDecoderTables()
	}
	nd, pd, err := childDrivers(cfg, logWriter("port"))
	if err != nil {
		return fail("child ", err)
	}
	// The child runs the target program itself: the target's steps are done here, right after
	// the copy-up (the first step after which they can be), instead of in a third run of this
	// executable inside the namespaces, whose only job would be to do them and exec the program.
	// An installed rootlesskit (the external engine) has no such hook, and runs the target step.
	// RootlessKit replaces /sys after the copy-up unless it keeps the host's network namespace
	// layout: no network driver, or a detached network namespace (child.Child's mountSysfs).
	copyUp := &targetSteps{ChildDriver: tmpfssymlink.NewChildDriver(), cfg: cfg, hostSysfs: nd == nil || cfg.DetachNetNS}
	opt := child.Opt{
		PipeFDEnvKey:              envPipeFD,
		RunActivationHelperEnvKey: envActivationRun,
		ChildUseActivationEnvKey:  envActivation,
		StateDirEnvKey:            EnvStateDir,
		TargetCmd:                 cfg.Target.Argv,
		NetworkDriver:             nd,
		PortDriver:                pd,
		CopyUpDriver:              copyUp,
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

// runTarget is the target step under an installed rootlesskit: it prepares the namespace and
// execs the target program.
func runTarget() int {
	cfg, err := readSpec()
	if err != nil {
		return fail("target", err)
	}
	if err := enterTarget(cfg, "target", true); err != nil {
		return fail("target", err)
	}
	err = syscall.Exec(cfg.Target.Argv[0], cfg.Target.Argv, targetEnv(cfg.Target.Env, os.Environ()))
	return fail("target", fmt.Errorf("exec %s: %w", cfg.Target.Argv[0], err))
}

// enterTarget does the target's steps before its program starts, as role id: prepare the
// namespace, send the probe socket, change directory. hostSysfs says whether /sys is still the
// host's when the program starts (prepare covers its securityfs then).
func enterTarget(cfg *Spec, id string, hostSysfs bool) error {
	if cfg.Target.Prepare {
		if err := prepare(cfg, hostSysfs); err != nil {
			return fmt.Errorf("prepare namespace: %w", err)
		}
	}
	if cfg.Target.ProbeSocket != "" {
		if err := sendProbeSocket(cfg.Target.ProbeSocket, containersNetNS(cfg)); err != nil {
			fmt.Fprintf(os.Stderr, "[rootlesskit:%s] warning: no health probe through the network: %v\n", id, err)
		}
	}
	if cfg.Target.Dir != "" {
		if err := os.Chdir(cfg.Target.Dir); err != nil {
			return err
		}
	}
	return nil
}

// targetSteps is the embedded engine's copy-up driver: after RootlessKit's copy-up it does the
// target's steps in RootlessKit's child, and gives the child the target's environment, which
// RootlessKit passes to the program it starts (the child's own os.Environ).
type targetSteps struct {
	copyup.ChildDriver
	cfg       *Spec
	hostSysfs bool
}

func (t *targetSteps) CopyUp(dirs []string) ([]string, error) {
	copied, err := t.ChildDriver.CopyUp(dirs)
	if err != nil {
		return copied, err
	}
	if err := enterTarget(t.cfg, "child ", t.hostSysfs); err != nil {
		return copied, err
	}
	env := targetEnv(t.cfg.Target.Env, os.Environ())
	os.Clearenv()
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if err := os.Setenv(k, v); err != nil {
				return copied, fmt.Errorf("target environment: %w", err)
			}
		}
	}
	return copied, nil
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

// The drivers' embedded-engine side, which this package's drivers have on Linux.
type (
	netEmbedder interface {
		Parent(netdriver.ParentSetup) (network.ParentDriver, error)
		Child() network.ChildDriver
	}
	portEmbedder interface {
		Parent(portdriver.ParentSetup) (port.ParentDriver, error)
		Child(log io.Writer) port.ChildDriver
	}
)

func embedders(s *Spec) (netEmbedder, portEmbedder, error) {
	n, ok := s.Net.(netEmbedder)
	if !ok {
		return nil, nil, fmt.Errorf("network driver %T cannot run in the embedded engine", s.Net)
	}
	p, ok := s.Port.(portEmbedder)
	if !ok {
		return nil, nil, fmt.Errorf("port driver %T cannot run in the embedded engine", s.Port)
	}
	return n, p, nil
}

// parentDrivers builds RootlessKit's parent-side drivers of s, in the helper. Both are nil
// for the host network.
func parentDrivers(s *Spec, log io.Writer) (network.ParentDriver, port.ParentDriver, error) {
	if s.Net == nil {
		return nil, nil, nil
	}
	n, p, err := embedders(s)
	if err != nil {
		return nil, nil, err
	}
	nd, err := n.Parent(netdriver.ParentSetup{Log: log, StateDir: s.StateDir, DetachNetNS: s.DetachNetNS, PortDriver: s.Port.Name()})
	if err != nil {
		return nil, nil, err
	}
	pd, err := p.Parent(portdriver.ParentSetup{Log: log, StateDir: s.StateDir, Network: s.Net})
	if err != nil {
		return nil, nil, err
	}
	return nd, pd, nil
}

// childDrivers builds RootlessKit's child-side drivers of s, in RootlessKit's child.
func childDrivers(s *Spec, log io.Writer) (network.ChildDriver, port.ChildDriver, error) {
	if s.Net == nil {
		return nil, nil, nil
	}
	n, p, err := embedders(s)
	if err != nil {
		return nil, nil, err
	}
	return n.Child(), p.Child(log), nil
}

// hostDeathSignal is the helper's parent-death signal. SIGHUP, the hang-up of its owner: no
// other sender gives it to the helper, and RootlessKit would pass it on to dockerd as a
// harmless reload if it ever did.
const hostDeathSignal = syscall.SIGHUP

// onHostDeath ends the tree when the host program that owns it dies, even by SIGKILL: it kills
// RootlessKit's child, the PID namespace's init, so that everything inside dies with it, and
// removes the detached network namespace's file, on whose removal pasta (which daemonizes out of
// the tree) quits. Then the helper exits, and slirp4netns dies of its own parent-death signal.
func onHostDeath(owner int, stateDir string) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, hostDeathSignal)
	for range sigs {
		if os.Getppid() == owner {
			continue // not the owner's death: RootlessKit passes it on
		}
		if b, err := os.ReadFile(filepath.Join(stateDir, StateChildPID)); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = os.Remove(filepath.Join(stateDir, StateNetNS))
		os.Exit(128 + int(hostDeathSignal))
	}
}
