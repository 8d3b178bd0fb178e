package netdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	rkversion "github.com/rootless-containers/rootlesskit/v3/pkg/version"
)

// Version is a MAJOR.MINOR.PATCH release number of RootlessKit (or of
// slirp4netns). Pre-release and build suffixes ("3.0.0-rc.0", "3.0.1+dev")
// are dropped by [ParseVersion]: a release candidate counts as its release.
//
// The zero Version means "unknown"; Flags methods reject it.
type Version struct {
	Major, Minor, Patch int
}

// LinkedRootlessKit is the RootlessKit version linked into this module and used by
// the embedded engine (the Parent and Child methods): 3.3.0 for
// github.com/rootless-containers/rootlesskit/v3 v3.3.0. Treat it as a
// constant.
var LinkedRootlessKit = mustParseVersion(rkversion.Version)

// Versions of RootlessKit at which flags and drivers appeared, checked by
// the Flags methods (see the package documentation for the table).
var (
	// minSupported is the oldest RootlessKit whose flags this package
	// produces (Debian and Ubuntu ship 1.1.0).
	minSupported = Version{1, 0, 0}
	// v2_0 added --net=pasta, --port-driver=implicit and --detach-netns.
	v2_0 = Version{2, 0, 0}
	// v2_1 added --net=none.
	v2_1 = Version{2, 1, 0}
	// v3_0 added --net=gvisor-tap-vsock, --port-driver=gvisor-tap-vsock and
	// --source-ip-transparent.
	v3_0 = Version{3, 0, 0}
)

func mustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// ParseVersion parses the output of "rootlesskit --version"
// ("rootlesskit version 1.1.0"), of "slirp4netns --version"
// ("slirp4netns version 1.2.0\ncommit: ...") or a bare version such as
// "3.3.0" or "v3.0.1+dev". Only the first non-empty line is read.
func ParseVersion(s string) (Version, error) {
	line := firstLine(s)
	if line == "" {
		return Version{}, errors.New("netdriver: empty version string")
	}
	f := strings.Fields(line)
	var tok string
	switch {
	case len(f) == 1:
		tok = f[0]
	case len(f) == 3 && f[1] == "version":
		tok = f[2]
	default:
		return Version{}, fmt.Errorf("netdriver: unrecognised version string %q", clip(line))
	}
	v, ok := parseTriple(tok)
	if !ok {
		return Version{}, fmt.Errorf("netdriver: unrecognised version %q", clip(tok))
	}
	return v, nil
}

// parseTriple parses "[v]MAJOR.MINOR.PATCH[-pre][+build]".
func parseTriple(s string) (Version, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, false
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 9 {
			return Version{}, false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return Version{}, false
			}
			n[i] = n[i]*10 + int(c-'0')
		}
	}
	return Version{n[0], n[1], n[2]}, true
}

// String returns "MAJOR.MINOR.PATCH".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// MarshalText writes v as "MAJOR.MINOR.PATCH".
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (v *Version) UnmarshalText(b []byte) error {
	w, ok := parseTriple(string(b))
	if !ok {
		return fmt.Errorf("netdriver: unrecognised version %q", clip(string(b)))
	}
	*v = w
	return nil
}

// IsZero reports whether v is the zero ("unknown") Version.
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than o.
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

// AtLeast reports whether v is o or newer.
func (v Version) AtLeast(o Version) bool { return v.Compare(o) >= 0 }

// RequireVersion returns nil if have is at least need. Otherwise it returns
// an [*Error] with [IDRootlessKitTooOld] that names feature and the minimum
// version, e.g. "--net=gvisor-tap-vsock needs RootlessKit 3.0.0 or later;
// have 1.1.0". A zero have gives [IDRootlessKitUnknown]. driver may be "".
func RequireVersion(driver, feature string, have, need Version) error {
	if err := CheckTarget(driver, have); err != nil {
		return err
	}
	if have.AtLeast(need) {
		return nil
	}
	return Problem(IDRootlessKitTooOld, driver, fmt.Sprintf("%s needs RootlessKit %s or later; have %s", feature, need, have), fmt.Sprintf("upgrade RootlessKit to %s or later, or use the embedded engine (RootlessKit %s)", need, LinkedRootlessKit))
}

// CheckTarget returns an error if flags cannot be produced for RootlessKit
// v: v is zero (unknown) or older than 1.0.0.
func CheckTarget(driver string, v Version) error {
	if v.IsZero() {
		return Problem(IDRootlessKitUnknown, driver, "no RootlessKit version given", "pass the output of `rootlesskit --version` through ParseVersion (or RootlessKitVersion), or use LinkedRootlessKit")
	}
	if !v.AtLeast(minSupported) {
		return Problem(IDRootlessKitTooOld, driver, fmt.Sprintf("RootlessKit %s is older than %s, the oldest release this package supports", v, minSupported), fmt.Sprintf("upgrade RootlessKit to %s or later, or use the embedded engine (RootlessKit %s)", minSupported, LinkedRootlessKit))
	}
	return nil
}

// RootlessKitVersion runs "binary --version" on h and parses the answer.
// binary is a path or a name looked up in h's PATH ("" means "rootlesskit").
func RootlessKitVersion(ctx context.Context, h *Host, binary string) (Version, error) {
	if binary == "" {
		binary = "rootlesskit"
	}
	p, err := h.LookPath(binary)
	if err != nil {
		return Version{}, Problem(IDBinaryMissing, "rootlesskit", err.Error(), "install rootlesskit (apt-get install rootlesskit, dnf install rootlesskit), or use the embedded engine")
	}
	out, err := h.Output(ctx, p, "--version")
	if err != nil {
		if ctx.Err() != nil {
			return Version{}, ctx.Err()
		}
		return Version{}, withErr(Problem(IDBinaryFailed, "rootlesskit", fmt.Sprintf("%q failed", p+" --version"), "reinstall rootlesskit, or use the embedded engine"), err, "")
	}
	return ParseVersion(string(out))
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// clip shortens s for error messages.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func firstLineBytes(b []byte) string {
	for _, l := range bytes.Split(b, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			return string(l)
		}
	}
	return ""
}
