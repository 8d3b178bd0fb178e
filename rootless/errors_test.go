package rootless

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
)

func TestStartError(t *testing.T) {
	var log []string
	for i := 1; i <= 15; i++ {
		log = append(log, fmt.Sprintf("line %d", i))
	}
	e := &StartError{Stage: StageNamespaces, Cause: "no subids", Fix: "add them", Log: log, Err: errExited}
	want := "rootless: start failed at stage namespaces: the daemon's process tree exited; cause: no subids (fix: add them)\n" +
		"last log lines:\n\tline 6\n\tline 7\n\tline 8\n\tline 9\n\tline 10\n\tline 11\n\tline 12\n\tline 13\n\tline 14\n\tline 15"
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if !errors.Is(e, errExited) {
		t.Error("StartError must unwrap to Err")
	}
	if len(e.Log) != 15 {
		t.Error("Error() must not truncate Log")
	}
	plain := &StartError{Stage: StageDockerd, Err: errors.New("context deadline exceeded")}
	if got, want := plain.Error(), "rootless: start failed at stage dockerd: context deadline exceeded"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if se, ok := errors.AsType[*StartError](fmt.Errorf("launch: %w", e)); !ok || se.Stage != StageNamespaces {
		t.Error("errors.AsType does not find a wrapped StartError")
	}
}

func TestExitError(t *testing.T) {
	tests := []struct {
		err  *ExitError
		want string
	}{
		{&ExitError{Code: 1}, "rootless: daemon exited unexpectedly with status 1"},
		{&ExitError{Code: -1, Cause: "c", Fix: "r", Log: []string{"a", "b"}},
			"rootless: daemon exited unexpectedly with status -1; cause: c (fix: r)\nlast log lines:\n\ta\n\tb"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// remedied is a third-party error that carries a remedy by behaviour, as the leaf packages do.
type remedied struct{ fix string }

func (r remedied) Error() string  { return "remedied" }
func (r remedied) Remedy() string { return r.fix }

func TestRemedy(t *testing.T) {
	nd := netdriver.Problem(netdriver.IDInvalidConfig, "pasta", "d", "netdriver fix")
	f := func(fix string) *diag.Finding { return &diag.Finding{ID: IDRoot, Severity: diag.Error, Fix: fix} }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain", errors.New("x"), ""},
		{"finding", f("finding fix"), "finding fix"},
		{"start", &StartError{Fix: "start fix"}, "start fix"},
		{"exit", &ExitError{Fix: "exit fix"}, "exit fix"},
		{"method", remedied{"method fix"}, "method fix"},
		{"netdriver", nd, "netdriver fix"},
		{"wrapped", fmt.Errorf("launch: %w", f("wrapped fix")), "wrapped fix"},
		{"empty fix descends into the cause", &diag.Finding{ID: IDRoot, Err: nd}, "netdriver fix"},
		{"start error without diagnosis descends", &StartError{Err: fmt.Errorf("x: %w", remedied{"inner"})}, "inner"},
		{"joined: first in order", errors.Join(errors.New("x"), f("first"), f("second")), "first"},
		{"joined, nested, depth first",
			errors.Join(errors.Join(errors.New("a"), fmt.Errorf("b: %w", remedied{"deep"})), f("later")), "deep"},
		{"joined, empty ones skipped", errors.Join(f(""), remedied{""}, &StartError{Fix: "third"}), "third"},
	}
	for _, tt := range tests {
		if got := Remedy(tt.err); got != tt.want {
			t.Errorf("%s: Remedy = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestErrorsSentinels(t *testing.T) {
	for _, e := range []error{ErrNotSupported, ErrInvalidOption, ErrAlreadyRunning, ErrClosed, ErrNoInit} {
		if !strings.HasPrefix(e.Error(), "rootless: ") {
			t.Errorf("%q lacks the package prefix", e)
		}
	}
	err := optionError("WithX", "%q is bad", "v")
	if err.Error() != `rootless: invalid option: WithX: "v" is bad` || !errors.Is(err, ErrInvalidOption) {
		t.Errorf("optionError = %v", err)
	}
}
