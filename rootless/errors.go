package rootless

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotSupported is returned on platforms other than Linux.
	ErrNotSupported = errors.New("rootless: not supported on this platform")
	// ErrInvalidOption wraps every error an Option reports; Launch reports all of them at once.
	ErrInvalidOption = errors.New("rootless: invalid option")
	// ErrAlreadyRunning is returned by Launch when another daemon holds the state directory or
	// the data root.
	ErrAlreadyRunning = errors.New("rootless: state directory is in use by another daemon")
	// ErrClosed is returned by methods of a Daemon that has been shut down.
	ErrClosed = errors.New("rootless: daemon already closed")
	// ErrNoInit is returned by Launch when the embedded engine is used but the program did not
	// call Init at the top of main.
	ErrNoInit = errors.New("rootless: rootless.Init was not called at the top of main")
)

// PrereqError reports a host prerequisite that Launch cannot work around, or an unsafe set-up
// it refuses. Check returns one per problem, joined.
type PrereqError struct {
	Check  string // stable id, e.g. "subuid", "newuidmap", "userns-clone", "state-dir", "binary:dockerd"
	Detail string // what was observed, e.g. `no entry for "alice" in /etc/subuid`
	Remedy string // what fixes it: an imperative sentence or the exact command
	// Warning marks a problem that does not stop Launch: it limits a feature (resource limits
	// are ignored on cgroup v1) or may bite later. Launch logs warnings; Check returns them too.
	Warning bool
	Err     error // the cause, if any
}

func (e *PrereqError) Error() string {
	s := "rootless: " + e.Check + ": " + e.Detail
	if e.Remedy != "" {
		s += " (fix: " + e.Remedy + ")"
	}
	return s
}

func (e *PrereqError) Unwrap() error { return e.Err }

// Stage is a step of Launch. Progress callbacks receive them in order, and a StartError names
// the one that failed.
type Stage string

const (
	StageCheck      Stage = "check"      // inspecting the host and the options
	StagePrepare    Stage = "prepare"    // locking the state directory, removing stale files
	StageNamespaces Stage = "namespaces" // RootlessKit: user, mount, PID and network namespaces, ports
	StageDockerd    Stage = "dockerd"    // dockerd starting inside the namespaces; waiting for its API
	StageReady      Stage = "ready"      // the Docker API answers
)

// StartError reports a daemon that did not become ready. Launch has already stopped and
// removed everything it started.
type StartError struct {
	Stage  Stage
	Cause  string   // the diagnosis, when the log shows a known failure; empty otherwise
	Remedy string   // what fixes the known failure
	Log    []string // the last lines the daemon's process tree printed
	Err    error
}

func (e *StartError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rootless: start failed at stage %s: %v", e.Stage, e.Err)
	if e.Cause != "" {
		fmt.Fprintf(&b, "; cause: %s", e.Cause)
	}
	if e.Remedy != "" {
		fmt.Fprintf(&b, " (fix: %s)", e.Remedy)
	}
	writeTail(&b, e.Log)
	return b.String()
}

// errorTailLines is how many log lines an error message shows; the Log field has more.
const errorTailLines = 10

func writeTail(b *strings.Builder, log []string) {
	if len(log) == 0 {
		return
	}
	b.WriteString("\nlast log lines:\n\t")
	b.WriteString(strings.Join(log[max(0, len(log)-errorTailLines):], "\n\t"))
}

func (e *StartError) Unwrap() error { return e.Err }

// ExitError reports a daemon that exited on its own after it was ready.
type ExitError struct {
	Code   int // exit status; -1 if killed by a signal
	Cause  string
	Remedy string
	Log    []string
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("rootless: daemon exited unexpectedly with status %d", e.Code)
	if e.Cause != "" {
		s += "; cause: " + e.Cause
	}
	if e.Remedy != "" {
		s += " (fix: " + e.Remedy + ")"
	}
	var b strings.Builder
	b.WriteString(s)
	writeTail(&b, e.Log)
	return b.String()
}

// Remedy returns the first remedy found in err's tree: a PrereqError's, a StartError's, or
// that of any error with a Remedy() string method (idmap, netdriver, portdriver, cgroupdeleg).
// It returns "" if there is none.
func Remedy(err error) string {
	var found string
	walk(err, func(e error) bool {
		if found != "" {
			return false
		}
		switch e := e.(type) {
		case *PrereqError:
			found = e.Remedy
		case *StartError:
			found = e.Remedy
		case *ExitError:
			found = e.Remedy
		case interface{ Remedy() string }:
			found = e.Remedy()
		}
		return found == ""
	})
	return found
}

// walk visits err and, depth first, the errors it wraps; visit returns whether to descend
// into the errors e wraps.
func walk(err error, visit func(e error) bool) {
	if err == nil || !visit(err) {
		return
	}
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		for _, c := range e.Unwrap() {
			walk(c, visit)
		}
	case interface{ Unwrap() error }:
		walk(e.Unwrap(), visit)
	}
}

// optionError reports an invalid option value.
func optionError(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}
