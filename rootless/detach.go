package rootless

import (
	"errors"
	"strconv"
)

// WithDetach(true) makes the daemon independent of the program that launches it, for dev tools
// and IDEs that want one daemon per workspace across their own restarts and crashes. The
// daemon's process tree gets no parent-death signal and a session of its own, and writes its
// output to STATEDIR/daemon.log (WithDaemonOutput and WithLogger still see it while the
// launching process lives). It still runs in its own PID namespace, so Shutdown leaves nothing
// behind. Launch records it in STATEDIR/rootlessd.json for [Attach]. Close then lets go of it
// without stopping it; Shutdown stops it, from the launching process or from any process that
// attached.
//
// Default: false, the daemon dies with its owner, even when the owner is killed with SIGKILL.
func WithDetach(on bool) Option {
	return optionFunc(func(c *config) error {
		c.detached = on
		return nil
	})
}

// ErrNotRunning is returned by Attach when no live daemon runs for the state directory: there
// is no record of one, or the record is of a daemon that has exited (even when its pid now
// belongs to another process). The error that wraps it says which.
var ErrNotRunning = errors.New("rootless: no daemon runs for this state directory")

// State-directory files of a detached daemon.
const (
	recordFile    = "rootlessd.json" // what Attach needs: the tree's leader, its start, the Info
	daemonLogFile = "daemon.log"     // the detached tree's output
)

// UnmarshalText reads what MarshalText wrote: "auto", "embedded" or "external".
func (e *Engine) UnmarshalText(b []byte) error {
	for _, c := range []Engine{EngineAuto, EngineEmbedded, EngineExternal} {
		if c.String() == string(b) {
			*e = c
			return nil
		}
	}
	return errors.New("rootless: engine " + strconv.Quote(string(b)) + " is not auto, embedded or external")
}
