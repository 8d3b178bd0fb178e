package netdriver

import (
	"errors"
	"strings"
)

// ID is the stable identifier of a class of [Error]. IDs never change once
// released; match them with [errors.Is]:
//
//	if errors.Is(err, netdriver.IDBinaryMissing) { ... }
//
// ID implements error only so that it can be the target of errors.Is.
type ID string

// Error returns the ID itself.
func (id ID) Error() string { return string(id) }

// The IDs of [Error]. Package portdriver uses the same error type and IDs.
const (
	// IDBinaryMissing: a program the driver runs is not in the Host's PATH
	// (or at the configured path).
	IDBinaryMissing ID = "binary-missing"
	// IDBinaryFailed: a program is present but failed when probed
	// (for example "slirp4netns --help" exited non-zero).
	IDBinaryFailed ID = "binary-failed"
	// IDSlirp4netnsTooOld: slirp4netns lacks --netns-type, so it is older than 0.4.0.
	IDSlirp4netnsTooOld ID = "slirp4netns-too-old"
	// IDPastaTooOld: pasta is older than the release a feature needs
	// (2023_06_25 for RootlessKit, 2023_12_04 for the implicit port driver,
	// 2026_05_07 for the pesto port driver).
	IDPastaTooOld ID = "pasta-too-old"
	// IDPastaVersionUnknown: pasta does not say which release it is
	// (Debian's build prints "unknown version"). Always a warning.
	IDPastaVersionUnknown ID = "pasta-version-unknown"
	// IDNotSetuid: lxc-user-nic is not setuid root.
	IDNotSetuid ID = "not-setuid"
	// IDLXCUserNet: /etc/lxc/lxc-usernet has no veth entry for the user and bridge.
	IDLXCUserNet ID = "lxc-usernet"
	// IDLXCBridge: the bridge lxc-user-nic attaches to does not exist, or is
	// not a bridge.
	IDLXCBridge ID = "lxc-bridge-missing"
	// IDHostNetwork: the "host" network (no network namespace) was requested;
	// dockerd-rootless.sh rejects it ("Unsupported RootlessKit network driver: host").
	IDHostNetwork ID = "host-network-unsupported"
	// IDInvalidConfig: a field of a driver value is out of range.
	IDInvalidConfig ID = "invalid-config"
	// IDRootlessKitTooOld: the RootlessKit version lacks a driver, port driver or flag.
	IDRootlessKitTooOld ID = "rootlesskit-too-old"
	// IDRootlessKitUnknown: no RootlessKit version was given (the zero Version).
	IDRootlessKitUnknown ID = "rootlesskit-version-unknown"
	// IDIncompatible: the network driver and the port driver cannot be combined.
	IDIncompatible ID = "incompatible-drivers"
	// IDEmbeddedOnly: the network driver and the port driver work together
	// only in the embedded engine: RootlessKit's library runs the pair, but
	// the rootlesskit command refuses it (pasta with builtin).
	IDEmbeddedOnly ID = "embedded-engine-only"
	// IDUnsupported: a switch (IPv6, host loopback, source IP) cannot be met
	// by the driver.
	IDUnsupported ID = "unsupported"
	// IDNotBuiltin: Encode was given a driver that is not one of this package's types.
	IDNotBuiltin ID = "not-builtin"
	// IDHostUnavailable: the Host cannot answer (no FS, no Run func).
	IDHostUnavailable ID = "host-unavailable"
	// IDPrivilegedPort: a parent port below net.ipv4.ip_unprivileged_port_start
	// cannot be bound by the process that binds it (used by portdriver).
	IDPrivilegedPort ID = "privileged-port"
	// IDNoPortAPI: the port driver in use has no port API (implicit, none; used by portdriver).
	IDNoPortAPI ID = "no-port-api"
	// IDSourceIPBackend: neither nft nor iptables was found, so the builtin
	// port driver cannot keep the source IP (a warning; used by portdriver).
	IDSourceIPBackend ID = "source-ip-backend-missing"
	// IDRootlessKitAPI: the RootlessKit REST API returned an error (used by portdriver).
	IDRootlessKitAPI ID = "rootlesskit-api"
)

// Error is a problem found by a driver: a missing prerequisite on the host,
// an invalid value, or a combination that RootlessKit rejects. Every Error
// says how to fix it ([Error.Remedy]).
//
// Errors are returned alone or joined with [errors.Join]; use [Problems] to
// list them, [Blocking] to drop warnings and [Remedy] for the fixes.
type Error struct {
	// ID is the stable class of the problem; errors.Is(err, ID) matches it.
	ID ID
	// Driver is the name of the driver that reported it, e.g. "pasta".
	Driver string
	// Detail says what was observed, e.g. `"/usr/bin/slirp4netns --help" lacks --netns-type`.
	Detail string
	// Fix is one imperative sentence that removes the problem.
	Fix string
	// Warning is true when the driver may still work: the problem could not
	// be confirmed (an unknown pasta version) or only degrades a feature.
	Warning bool
	// Err is the underlying cause, if any.
	Err error
}

// Error formats the problem as "[warning: ]driver: id: detail: cause (fix: fix)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Warning {
		b.WriteString("warning: ")
	}
	if e.Driver != "" {
		b.WriteString(e.Driver)
		b.WriteString(": ")
	}
	b.WriteString(string(e.ID))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// Remedy returns how to fix the problem.
func (e *Error) Remedy() string { return e.Fix }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is this error's ID.
func (e *Error) Is(target error) bool {
	id, ok := target.(ID)
	return ok && id == e.ID
}

// Remedy returns the remedies of every error in err's tree that has a
// Remedy() string method (an [*Error] or a third-party error), one per line,
// in order and without duplicates. It returns "" if there is none.
func Remedy(err error) string {
	var out []string
	seen := map[string]bool{}
	walk(err, func(e error) bool {
		if r, ok := e.(interface{ Remedy() string }); ok {
			if s := r.Remedy(); s != "" && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		return true
	})
	return strings.Join(out, "\n")
}

// Problems returns every [*Error] in err's tree, in order. Errors of other
// types (a context error, for example) are not included.
func Problems(err error) []*Error {
	var out []*Error
	walk(err, func(e error) bool {
		if p, ok := e.(*Error); ok {
			out = append(out, p)
			return false
		}
		return true
	})
	return out
}

// Blocking returns err without its warnings: nil if err is nil or holds only
// [*Error] values with Warning set, else the remaining errors joined.
func Blocking(err error) error {
	if err == nil {
		return nil
	}
	if p, ok := err.(*Error); ok {
		if p.Warning {
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
		if len(keep) == 0 {
			return nil
		}
		if len(keep) == 1 {
			return keep[0]
		}
		return errors.Join(keep...)
	}
	return err
}

// Warnings returns the [*Error] values in err's tree that are warnings.
func Warnings(err error) []*Error {
	var out []*Error
	for _, p := range Problems(err) {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// walk visits err and its tree depth-first; visit returns false to stop
// descending below the current error.
func walk(err error, visit func(error) bool) {
	if err == nil {
		return
	}
	if !visit(err) {
		return
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, visit)
		}
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), visit)
	}
}

// join is errors.Join that returns a single error unwrapped.
func join(errs []error) error {
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

func invalid(driver, detail, fix string) *Error {
	return &Error{ID: IDInvalidConfig, Driver: driver, Detail: detail, Fix: fix}
}
