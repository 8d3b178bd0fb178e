// Package diag is the one shape of a finding that every rootlessd package reports: what was
// observed on the host or in the options, how bad it is, the evidence, and the exact fix.
//
// # Overview
//
// Package rootless, idmap, cgroupdeleg, netdriver and portdriver all report problems as a
// [*Finding]. It is an error, so a function can return one alone or several joined with
// errors.Join, and a caller handles them alike whichever package found them:
//
//	for _, f := range diag.List(err) {
//		fmt.Printf("%s %s: %s\n  fix: %s\n", f.Severity, f.ID, f.Detail, f.Fix)
//	}
//
// # IDs
//
// An [ID] is stable once released and has the form PACKAGE.NAME, lowercase, with words joined
// by '-': "idmap.subuid-missing", "cgroupdeleg.not-delegated", "netdriver.binary-missing". An ID
// is an error too, so that errors.Is matches a finding by its class:
//
//	if errors.Is(err, netdriver.IDBinaryMissing) { ... }
//
// Each package lists the IDs it reports (idmap.IDs, netdriver.IDs, ...), and package rootless
// keeps a golden list of all of them.
//
// # Severity
//
// [Error] means the daemon will not start (or not work) until it is fixed; [Warning] means it
// works with a feature lost or degraded; [Info] is worth knowing and breaks nothing.
//
// # Remedies across packages
//
// [Remedy] collects the fix of every error in a tree that has a Remedy() string method: a
// Finding, and any third-party error that follows the same convention.
package diag

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Severity ranks a [Finding]. The zero value is not a valid severity.
type Severity int

// The severities, least severe first, so that they compare with < and max.
const (
	Info Severity = iota + 1
	Warning
	Error
)

// String returns "info", "warning" or "error".
func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText writes the severity as its String form.
func (s Severity) MarshalText() ([]byte, error) {
	if s < Info || s > Error {
		return nil, fmt.Errorf("diag: invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads "info", "warning" or "error".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "info":
		*s = Info
	case "warning":
		*s = Warning
	case "error":
		*s = Error
	default:
		return fmt.Errorf("diag: unknown severity %q (want info, warning or error)", b)
	}
	return nil
}

// ID is the stable class of a [Finding], in the form PACKAGE.NAME. It implements error only so
// that it can be the target of errors.Is.
type ID string

// Error returns the ID itself.
func (id ID) Error() string { return string(id) }

// Valid reports whether id has the form PACKAGE.NAME: a lowercase package name, a dot, and a
// name of lowercase letters, digits and '-' that starts with a letter or digit.
func (id ID) Valid() bool {
	pkg, name, ok := strings.Cut(string(id), ".")
	if !ok || pkg == "" || name == "" || name[0] == '-' {
		return false
	}
	for _, c := range pkg {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Finding is one problem or fact found on the host or in the options.
type Finding struct {
	// ID is the stable class of the finding; errors.Is(err, ID) matches it.
	ID ID `json:"id"`
	// Severity says how bad it is.
	Severity Severity `json:"severity"`
	// Detail says what was observed and what it breaks, in one or two sentences.
	Detail string `json:"detail"`
	// Evidence is what shows it: a value ("net.ipv4.ping_group_range = 1 0"), a path, or
	// file:line. It may be empty.
	Evidence string `json:"evidence,omitempty"`
	// Fix is what removes the problem: the exact commands or file content, which may span
	// lines, or one imperative sentence. Empty only for findings of severity Info.
	Fix string `json:"fix,omitempty"`
	// Err is the underlying cause, if any; Unwrap returns it.
	Err error `json:"-"`
}

// Error formats the finding as "[warning: |info: ]ID: detail[: cause] (fix: fix)", with a
// multi-line fix on lines of its own.
func (f *Finding) Error() string {
	var b strings.Builder
	switch f.Severity {
	case Warning, Info:
		b.WriteString(f.Severity.String())
		b.WriteString(": ")
	}
	b.WriteString(string(f.ID))
	if f.Detail != "" {
		b.WriteString(": ")
		b.WriteString(f.Detail)
	}
	if f.Err != nil && !strings.Contains(f.Detail, f.Err.Error()) {
		b.WriteString(": ")
		b.WriteString(f.Err.Error())
	}
	switch {
	case f.Fix == "":
	case strings.Contains(f.Fix, "\n"):
		b.WriteString("; fix:\n")
		b.WriteString(f.Fix)
	default:
		b.WriteString(" (fix: ")
		b.WriteString(f.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// Remedy returns the fix.
func (f *Finding) Remedy() string { return f.Fix }

// Unwrap returns the underlying cause, which may be nil.
func (f *Finding) Unwrap() error { return f.Err }

// Is reports whether target is this finding's ID.
func (f *Finding) Is(target error) bool {
	id, ok := target.(ID)
	return ok && id == f.ID
}

// MarshalJSON writes the finding with its cause, if any, as the string "error".
func (f *Finding) MarshalJSON() ([]byte, error) {
	type plain Finding
	v := struct {
		*plain
		Error string `json:"error,omitempty"`
	}{plain: (*plain)(f)}
	if f.Err != nil {
		v.Error = f.Err.Error()
	}
	return json.Marshal(v)
}

// List returns every [*Finding] in err's tree, depth first, in order. Errors of other types
// (a context error, for example) are left out.
func List(err error) []*Finding {
	var out []*Finding
	Walk(err, func(e error) bool {
		if f, ok := e.(*Finding); ok {
			out = append(out, f)
			return false
		}
		return true
	})
	return out
}

// Blocking returns err without the findings below [Error]: nil if nothing else is left. Errors
// that are not findings count as blocking, unless all they wrap is findings that do not block.
func Blocking(err error) error {
	if err == nil {
		return nil
	}
	if f, ok := err.(*Finding); ok {
		if f.Severity != Error {
			return nil
		}
		return err
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var keep []error
		for _, e := range j.Unwrap() {
			if k := Blocking(e); k != nil {
				keep = append(keep, k)
			}
		}
		return Join(keep...)
	}
	if u, ok := err.(interface{ Unwrap() error }); ok && u.Unwrap() != nil && Blocking(u.Unwrap()) == nil {
		return nil // context around findings that do not block
	}
	return err
}

// Worst returns the highest severity among fs, or 0 if fs is empty.
func Worst(fs []*Finding) Severity {
	var s Severity
	for _, f := range fs {
		s = max(s, f.Severity)
	}
	return s
}

// Remedy returns the remedies of every error in err's tree that has a Remedy() string method,
// one per line, in order and without duplicates; "" if there is none.
func Remedy(err error) string {
	var out []string
	seen := map[string]bool{}
	Walk(err, func(e error) bool {
		r, ok := e.(interface{ Remedy() string })
		if !ok {
			return true
		}
		if s := r.Remedy(); s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
		return true
	})
	return strings.Join(out, "\n")
}

// Join is errors.Join, except that it returns a single non-nil error as it is.
func Join(errs ...error) error {
	var keep []error
	for _, e := range errs {
		if e != nil {
			keep = append(keep, e)
		}
	}
	switch len(keep) {
	case 0:
		return nil
	case 1:
		return keep[0]
	}
	return errors.Join(keep...)
}

// Walk visits err and, depth first, the errors it wraps; visit returns whether to descend into
// the errors e wraps.
func Walk(err error, visit func(e error) bool) {
	if err == nil || !visit(err) {
		return
	}
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		for _, c := range e.Unwrap() {
			Walk(c, visit)
		}
	case interface{ Unwrap() error }:
		Walk(e.Unwrap(), visit)
	}
}
