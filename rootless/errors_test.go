package rootless

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
)

func TestPrereqError(t *testing.T) {
	cause := os.ErrNotExist
	tests := []struct {
		err  *PrereqError
		want string
	}{
		{&PrereqError{Check: "subuid", Detail: `no entry for "alice" in /etc/subuid`, Remedy: "run: sudo usermod --add-subuids 100000-165535 alice"},
			`rootless: subuid: no entry for "alice" in /etc/subuid (fix: run: sudo usermod --add-subuids 100000-165535 alice)`},
		{&PrereqError{Check: "ping", Detail: "ping does not work", Warning: true},
			"rootless: ping: ping does not work"},
		{&PrereqError{Check: "binary:dockerd", Detail: "dockerd not found", Remedy: "install it", Err: cause},
			"rootless: binary:dockerd: dockerd not found (fix: install it)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant %q", got, tt.want)
		}
	}
	if !errors.Is(tests[2].err, os.ErrNotExist) || tests[0].err.Unwrap() != nil {
		t.Error("Unwrap must return Err")
	}
}

func TestStartError(t *testing.T) {
	var log []string
	for i := 1; i <= 15; i++ {
		log = append(log, fmt.Sprintf("line %d", i))
	}
	e := &StartError{Stage: StageNamespaces, Cause: "no subids", Remedy: "add them", Log: log, Err: errExited}
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
		{&ExitError{Code: -1, Cause: "c", Remedy: "r", Log: []string{"a", "b"}},
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
	nd := &netdriver.Error{ID: netdriver.IDInvalidConfig, Driver: "pasta", Detail: "d", Fix: "netdriver fix"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain", errors.New("x"), ""},
		{"prereq", &PrereqError{Check: "c", Remedy: "prereq fix"}, "prereq fix"},
		{"start", &StartError{Remedy: "start fix"}, "start fix"},
		{"exit", &ExitError{Remedy: "exit fix"}, "exit fix"},
		{"method", remedied{"method fix"}, "method fix"},
		{"netdriver", nd, "netdriver fix"},
		{"wrapped", fmt.Errorf("launch: %w", &PrereqError{Remedy: "wrapped fix"}), "wrapped fix"},
		{"empty remedy descends into the cause", &PrereqError{Check: "c", Err: nd}, "netdriver fix"},
		{"start error without diagnosis descends", &StartError{Err: fmt.Errorf("x: %w", remedied{"inner"})}, "inner"},
		{"joined: first in order", errors.Join(errors.New("x"), &PrereqError{Remedy: "first"}, &PrereqError{Remedy: "second"}), "first"},
		{"joined, nested, depth first",
			errors.Join(errors.Join(errors.New("a"), fmt.Errorf("b: %w", remedied{"deep"})), &PrereqError{Remedy: "later"}), "deep"},
		{"joined, empty ones skipped", errors.Join(&PrereqError{}, remedied{""}, &StartError{Remedy: "third"}), "third"},
	}
	for _, tt := range tests {
		if got := Remedy(tt.err); got != tt.want {
			t.Errorf("%s: Remedy = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestProblems(t *testing.T) {
	w1 := &PrereqError{Check: "w1", Warning: true}
	b1 := &PrereqError{Check: "b1"}
	w2 := &PrereqError{Check: "w2", Warning: true}
	b2 := &PrereqError{Check: "b2", Err: &PrereqError{Check: "inner"}} // its cause is not listed on its own
	b3 := &PrereqError{Check: "b3"}
	err := errors.Join(w1, errors.New("not a prerequisite"), b1, errors.Join(w2, fmt.Errorf("wrapped: %w", b2)), nil, b3)
	var got []string
	for _, p := range Problems(err) {
		got = append(got, p.Check)
	}
	if want := []string{"b1", "b2", "b3", "w1", "w2"}; !slices.Equal(got, want) {
		t.Errorf("Problems = %q, want blocking first, each group in order: %q", got, want)
	}
	if ps := Problems(nil); len(ps) != 0 {
		t.Errorf("Problems(nil) = %v", ps)
	}
	if ps := Problems(errors.New("x")); len(ps) != 0 {
		t.Errorf("Problems(plain) = %v", ps)
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
