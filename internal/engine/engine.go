// Package engine runs a program inside RootlessKit's namespaces and supervises the process tree.
//
// A [Spec] says what RootlessKit runs, as typed values; the same Spec starts either engine:
//
//   - Embedded: RootlessKit v3 linked into this module. The host's own executable is re-run as a
//     helper process that runs RootlessKit's parent; RootlessKit re-runs it again as its child,
//     which, after RootlessKit's copy-up, does the target's steps (it prepares the namespace the
//     way dockerd-rootless.sh's child does) and then starts the real program (dockerd) itself.
//     The host never runs RootlessKit's parent itself: that code takes over signals, stdio and the
//     logrus logger.
//   - External: an installed rootlesskit binary (1.1, 2.x or 3.x) in place of the helper, run with
//     [Spec.Flags], the one place RootlessKit flags are built. Its child runs this executable once
//     more as the target step, which does the same steps and execs the real program.
//
// The Spec travels to the helper, RootlessKit's child and the target in a private file (0600, in
// a private directory), named by an environment variable: a CI job's large environment would
// not fit into one environment string (128 KiB). Every role but the host's is chosen by
// environment variables and dispatched by [Init], which the host program calls first thing in
// main (through rootless.Init).
package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// Environment keys. The ROOTLESSKIT_* ones are RootlessKit's documented contract with dockerd;
// the others are private to this package and removed before the target program runs.
const (
	envRole          = "_ROOTLESSD_ENGINE_ROLE"
	envConfig        = "_ROOTLESSD_ENGINE_CONFIG" // the path of the Spec's file
	envPipeFD        = "_ROOTLESSD_RK_PIPEFD"
	envActivation    = "_ROOTLESSD_RK_ACTIVATION"
	envActivationRun = "_ROOTLESSD_RK_ACTIVATION_HELPER"

	EnvStateDir   = "ROOTLESSKIT_STATE_DIR"
	EnvParentEUID = "ROOTLESSKIT_PARENT_EUID"
	EnvParentEGID = "ROOTLESSKIT_PARENT_EGID"
)

const (
	roleParent = "parent"
	roleTarget = "target"
)

// RootlessKit's documented state-dir files.
const (
	StateChildPID = "child_pid"
	StateAPISock  = "api.sock"
	StateNetNS    = "netns"
	StateLock     = "lock"
)

// Spec is what RootlessKit runs, for either engine.
type Spec struct {
	StateDir    string            // RootlessKit's state dir; absolute, private, short
	Net         netdriver.Driver  // the network; nil: the host's (no network namespace)
	Port        portdriver.Driver // the port driver; nil: none
	Publish     []portdriver.Spec // ports published from the start
	DetachNetNS bool              // --detach-netns
	PIDNS       bool              // a PID namespace: when its init dies, everything in it dies
	CopyUp      []string          // --copy-up
	Propagation string            // --propagation; "" for RootlessKit's default
	SubidSource string            // --subid-source: "auto", "static" or "dynamic"; "" means auto
	Debug       bool              // --debug
	Target      Target            // what runs inside
}

// Target is the program run inside the namespaces.
type Target struct {
	Argv []string `json:"argv"` // Argv[0] is an absolute path
	Env  []string `json:"env"`  // its environment; RootlessKit's ROOTLESSKIT_* variables are added
	Dir  string   `json:"dir,omitempty"`
	// Prepare runs dockerd-rootless.sh's child steps before the program: remove the copied-up
	// /run/docker, /run/containerd and /run/xtables.lock links, rbind /etc/ssl when needed,
	// relabel /run for SELinux, and turn on IP forwarding in the daemon's network namespace.
	Prepare bool `json:"prepare,omitempty"`
	SELinux bool `json:"selinux,omitempty"`
	// ProbeSocket is a unix socket of the host process. Before the program starts, the target
	// sends it, as SCM_RIGHTS, a UDP socket created in the containers' network namespace: the
	// host's health watchdog sends datagrams through the network driver with it (see
	// ReceiveProbeSocket). "" for none; a failure is reported on stderr and not fatal.
	ProbeSocket string `json:"probe_socket,omitempty"`
}

// Validate reports what makes s unusable, every problem at once.
func (s *Spec) Validate() error {
	var errs []error
	if !filepath.IsAbs(s.StateDir) {
		errs = append(errs, fmt.Errorf("state dir %q is not absolute", s.StateDir))
	}
	if len(s.Target.Argv) == 0 || !filepath.IsAbs(s.Target.Argv[0]) {
		errs = append(errs, fmt.Errorf("target %q is not an absolute program path", s.Target.Argv))
	}
	if s.Net == nil && (s.DetachNetNS || s.Port != nil || len(s.Publish) > 0) {
		errs = append(errs, errors.New("detach-netns, a port driver and published ports need a network driver"))
	}
	if s.Net != nil && s.Port == nil {
		errs = append(errs, errors.New("a network driver needs a port driver (portdriver.None for no ports)"))
	}
	if s.Net != nil && s.Port != nil {
		errs = append(errs, portdriver.Validate(s.Net, s.Port))
		if len(s.Publish) > 0 {
			errs = append(errs, portdriver.CheckPublish(s.Port, s.Publish...))
		}
	}
	if s.DetachNetNS && s.Net != nil {
		errs = append(errs, netdriver.CheckDetachNetNS(s.Net))
	}
	switch s.SubidSource {
	case "", "auto", "static", "dynamic":
	default:
		errs = append(errs, fmt.Errorf("subid source %q is not auto, static or dynamic", s.SubidSource))
	}
	return errors.Join(errs...)
}

// Flags renders s as the command-line flags of an installed rootlesskit of version v (the
// target program follows them). It is the only place that builds RootlessKit flags.
func (s *Spec) Flags(v netdriver.Version) ([]string, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := netdriver.CheckTarget("rootlesskit", v); err != nil {
		return nil, err
	}
	flags := []string{"--state-dir=" + s.StateDir}
	if s.PIDNS {
		flags = append(flags, "--pidns", "--reaper=true")
	}
	if s.Propagation != "" {
		flags = append(flags, "--propagation="+s.Propagation)
	}
	for _, d := range s.CopyUp {
		flags = append(flags, "--copy-up="+d)
	}
	if s.SubidSource != "" && s.SubidSource != "auto" {
		flags = append(flags, "--subid-source="+s.SubidSource)
	}
	if s.Net != nil {
		if s.DetachNetNS {
			f, err := netdriver.DetachNetNSFlags(v, s.Net)
			if err != nil {
				return nil, err
			}
			flags = append(flags, f...)
		}
		nf, err := s.Net.Flags(v, s.Port.Name())
		if err != nil {
			return nil, err
		}
		pf, err := s.Port.Flags(v, s.Net)
		if err != nil {
			return nil, err
		}
		flags = append(append(flags, nf...), pf...)
		pub, err := portdriver.PublishFlags(s.Port, s.Publish...)
		if err != nil {
			return nil, err
		}
		flags = append(flags, pub...)
	}
	if s.Debug {
		flags = append(flags, "--debug")
	}
	return flags, nil
}

// wireSpec is the file form of a Spec: drivers in their tagged form.
type wireSpec struct {
	StateDir    string            `json:"state_dir"`
	Net         json.RawMessage   `json:"net,omitempty"`
	Port        json.RawMessage   `json:"port,omitempty"`
	Publish     []portdriver.Spec `json:"publish,omitempty"`
	DetachNetNS bool              `json:"detach_netns,omitempty"`
	PIDNS       bool              `json:"pidns,omitempty"`
	CopyUp      []string          `json:"copy_up,omitempty"`
	Propagation string            `json:"propagation,omitempty"`
	SubidSource string            `json:"subid_source,omitempty"`
	Debug       bool              `json:"debug,omitempty"`
	Target      Target            `json:"target"`
}

// MarshalJSON encodes s; only the drivers of packages netdriver and portdriver can be encoded
// (an error matching netdriver.IDNotBuiltin otherwise).
func (s *Spec) MarshalJSON() ([]byte, error) {
	w := wireSpec{StateDir: s.StateDir, Publish: s.Publish, DetachNetNS: s.DetachNetNS, PIDNS: s.PIDNS,
		CopyUp: s.CopyUp, Propagation: s.Propagation, SubidSource: s.SubidSource, Debug: s.Debug, Target: s.Target}
	var err error
	if s.Net != nil {
		if w.Net, err = netdriver.Encode(s.Net); err != nil {
			return nil, err
		}
	}
	if s.Port != nil {
		if w.Port, err = portdriver.Encode(s.Port); err != nil {
			return nil, err
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON wrote; unknown drivers and fields are errors.
func (s *Spec) UnmarshalJSON(b []byte) error {
	var w wireSpec
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Spec{StateDir: w.StateDir, Publish: w.Publish, DetachNetNS: w.DetachNetNS, PIDNS: w.PIDNS,
		CopyUp: w.CopyUp, Propagation: w.Propagation, SubidSource: w.SubidSource, Debug: w.Debug, Target: w.Target}
	var err error
	if len(w.Net) > 0 {
		if s.Net, err = netdriver.Decode(w.Net); err != nil {
			return err
		}
	}
	if len(w.Port) > 0 {
		if s.Port, err = portdriver.Decode(w.Port); err != nil {
			return err
		}
	}
	return nil
}

// SpecFilePattern names the Spec's files in the directory of StartOptions.SpecDir
// (os.CreateTemp's pattern, filepath.Glob's too). The file of a tree that was killed with its
// owner stays behind; the next start in that directory may remove it.
const SpecFilePattern = ".rootlessd-engine-*.json"

// writeSpec writes s to a new private file in dir and returns its path.
func writeSpec(s *Spec, dir string) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode engine spec: %w", err)
	}
	f, err := os.CreateTemp(dir, SpecFilePattern) // mode 0600
	if err != nil {
		return "", fmt.Errorf("write engine spec: %w", err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write engine spec: %w", err)
	}
	return f.Name(), nil
}

// readSpec reads the Spec the starting process wrote, named by the environment.
func readSpec() (*Spec, error) {
	path := os.Getenv(envConfig)
	if path == "" {
		return nil, fmt.Errorf("engine: %s is not set", envConfig)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("engine: read spec: %w", err)
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("engine: decode spec %s: %w", path, err)
	}
	return &s, nil
}
