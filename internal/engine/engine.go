// Package engine runs a program inside RootlessKit's namespaces and supervises the process tree.
//
// Two engines share one Config:
//
//   - Embedded: RootlessKit v3 linked into this module. The host's own executable is re-run as a
//     helper process that runs RootlessKit's parent; RootlessKit re-runs it again as its child, and
//     the child re-runs it once more as the target, which prepares the namespace the way
//     dockerd-rootless.sh's child does and then execs the real program (dockerd). The host never
//     runs RootlessKit's parent itself: that code takes over signals, stdio and the logrus logger.
//   - External: an installed rootlesskit binary (1.1, 2.x or 3.x) in place of the helper, with
//     flags for its version. The target step still runs this executable.
//
// Every role but the host's is chosen by environment variables and dispatched by [Init], which
// the host program calls first thing in main (through rootless.Init).
package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
)

// Environment keys. The ROOTLESSKIT_* ones are RootlessKit's documented contract with dockerd;
// the others are private to this package and removed before the target program runs.
const (
	envRole          = "_ROOTLESSD_ENGINE_ROLE"
	envConfig        = "_ROOTLESSD_ENGINE_CONFIG"
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

// Config is everything the helper, RootlessKit's child and the target need. It travels to them as
// JSON in the environment, since they are separate processes.
type Config struct {
	StateDir    string          `json:"state_dir"`          // RootlessKit's state dir; absolute, private, short
	Net         json.RawMessage `json:"net,omitempty"`      // network driver, decoded by Drivers; empty: host network
	Port        json.RawMessage `json:"port,omitempty"`     // port driver, decoded by Drivers; empty: none
	Publish     []string        `json:"publish,omitempty"`  // ports published from the start, RootlessKit's -p syntax
	NetName     string          `json:"net_name,omitempty"` // RootlessKit name of the network driver, for logs
	DetachNetNS bool            `json:"detach_netns,omitempty"`
	PIDNS       bool            `json:"pidns,omitempty"` // a PID namespace: when its init dies, everything in it dies
	CopyUp      []string        `json:"copy_up,omitempty"`
	Propagation string          `json:"propagation,omitempty"`
	SubidSource string          `json:"subid_source,omitempty"` // auto, dynamic or static
	Debug       bool            `json:"debug,omitempty"`
	Target      Target          `json:"target"`
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
}

// Validate reports what makes c unusable.
func (c *Config) Validate() error {
	var errs []error
	if !filepath.IsAbs(c.StateDir) {
		errs = append(errs, fmt.Errorf("state dir %q is not absolute", c.StateDir))
	}
	if len(c.Target.Argv) == 0 || !filepath.IsAbs(c.Target.Argv[0]) {
		errs = append(errs, fmt.Errorf("target %q is not an absolute program path", c.Target.Argv))
	}
	if c.DetachNetNS && len(c.Net) == 0 {
		errs = append(errs, errors.New("detach-netns needs a network driver"))
	}
	return errors.Join(errs...)
}

// Drivers turns a Config's encoded driver choice into RootlessKit drivers. Parent runs in the
// helper process and Child in RootlessKit's child, so both decode the same Config. Either may
// return nil drivers: no network namespace, or no port driver.
type Drivers interface {
	Parent(c *Config, log io.Writer) (network.ParentDriver, port.ParentDriver, error)
	Child(c *Config, log io.Writer) (network.ChildDriver, port.ChildDriver, error)
}

func encodeConfig(c *Config) (string, error) {
	b, err := json.Marshal(c)
	return string(b), err
}

func decodeConfig() (*Config, error) {
	s := os.Getenv(envConfig)
	if s == "" {
		return nil, fmt.Errorf("engine: %s is not set", envConfig)
	}
	var c Config
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("engine: decode %s: %w", envConfig, err)
	}
	return &c, nil
}
