package setup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// A Runner runs the commands of a plan (systemctl, sysctl, setcap) and the detection of
// systemd. It is the one seam between a plan and the host's programs.
type Runner interface {
	// Run runs argv and returns what it printed, stdout and stderr together. A command that
	// ran and failed returns a *exec.ExitError (or any error wrapping one).
	Run(ctx context.Context, argv []string) ([]byte, error)
}

// ExecRunner runs commands as processes of this program, looked up in PATH, with this
// process's environment plus Env (KEY=VALUE; later entries win).
type ExecRunner struct {
	Env []string
}

// Run runs argv and returns its combined output.
func (r ExecRunner) Run(ctx context.Context, argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("setup: empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if len(r.Env) > 0 {
		cmd.Env = append(os.Environ(), r.Env...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// CommandError is a command of a plan that failed.
type CommandError struct {
	Argv   []string
	Output string // what it printed, trimmed
	Err    error
	Hint   string // what to look at or do next; may be empty
}

func (e *CommandError) Error() string {
	s := fmt.Sprintf("setup: %s: %v", shellJoin(e.Argv), e.Err)
	if e.Output != "" {
		s += ": " + e.Output
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *CommandError) Unwrap() error { return e.Err }

// Remedy returns the hint, so that rootless.Remedy and diag.Remedy find it.
func (e *CommandError) Remedy() string { return e.Hint }

// shellJoin renders argv as a POSIX shell command line.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("@%_+=:,./-", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
