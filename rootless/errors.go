package rootless

import (
	"errors"

	"fmt"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
)

var (
	// ErrNotSupported is returned by Launch, Resolve, Check and RemoveAll on platforms other
	// than Linux: rootless Docker and RootlessKit are Linux-only. The package compiles
	// everywhere, so that IDE plugins and dev tools built for macOS and Windows can link it.
	ErrNotSupported = errors.New("rootless: not supported on this platform (rootless Docker runs on Linux)")
	// ErrInvalidOption wraps every error an Option reports; Launch reports all of them at once.
	ErrInvalidOption = errors.New("rootless: invalid option")
	// ErrAlreadyRunning is returned by Launch when another daemon holds the state directory or
	// the data root; the error that wraps it says which.
	ErrAlreadyRunning = errors.New("rootless: another daemon is running")
	// ErrClosed is returned by methods of a Daemon that has been shut down.
	ErrClosed = errors.New("rootless: daemon already closed")
	// ErrNoInit is returned by Launch, Resolve and RemoveAll when the program did not call Init
	// at the top of main: both engines re-run the program's executable inside the namespaces.
	ErrNoInit = errors.New("rootless: rootless.Init was not called at the top of main")
)

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
	Stage Stage
	Cause string   // the diagnosis, when the log shows a known failure; empty otherwise
	Fix   string   // what fixes the known failure
	Log   []string // the last lines the daemon's process tree printed
	Err   error
}

func (e *StartError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rootless: start failed at stage %s: %v", e.Stage, e.Err)
	if e.Cause != "" {
		fmt.Fprintf(&b, "; cause: %s", e.Cause)
	}
	if e.Fix != "" {
		fmt.Fprintf(&b, " (fix: %s)", e.Fix)
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

// Remedy returns the fix of the known failure, or "".
func (e *StartError) Remedy() string { return e.Fix }

// ExitError reports a daemon that exited on its own after it was ready.
type ExitError struct {
	Code  int // exit status; -1 if killed by a signal
	Cause string
	Fix   string
	Log   []string
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("rootless: daemon exited unexpectedly with status %d", e.Code)
	if e.Cause != "" {
		s += "; cause: " + e.Cause
	}
	if e.Fix != "" {
		s += " (fix: " + e.Fix + ")"
	}
	var b strings.Builder
	b.WriteString(s)
	writeTail(&b, e.Log)
	return b.String()
}

// Remedy returns the fix of an ExitError's known failure, or "".
func (e *ExitError) Remedy() string { return e.Fix }

// Remedy returns the first remedy in err's tree: that of the first error with a Remedy() string
// method, as a [*diag.Finding], a [*StartError], an [*ExitError] and third-party driver errors
// have. It returns "" if there is none; [diag.Remedy] returns all of them.
func Remedy(err error) string {
	var found string
	diag.Walk(err, func(e error) bool {
		if r, ok := e.(interface{ Remedy() string }); ok && found == "" {
			found = r.Remedy()
		}
		return found == ""
	})
	return found
}

// errExited reports a process tree that exited before the stage completed.
var errExited = errors.New("the daemon's process tree exited")

// optionError reports an invalid option value.
func optionError(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}
