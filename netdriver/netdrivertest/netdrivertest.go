// Package netdrivertest checks that a [netdriver.Driver] keeps the
// contract documented on the interface, in the spirit of
// testing/slogtest. A third-party driver proves itself with one call:
//
//	func TestConformance(t *testing.T) {
//		netdrivertest.Run(t, func() netdriver.Driver { return mydriver.New() })
//	}
//
// Run checks only what can be checked without creating a namespace: names,
// properties, Check's handling of a done context and of an empty host,
// the determinism and version gating of Flags, the Encode/Decode round trip
// of this module's drivers, and, on Linux, what the embedded engine's Parent
// and Child return. Moving bytes through a namespace is left to integration
// tests.
package netdrivertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
)

// Versions are the RootlessKit releases Run produces flags for: the
// distributions' 1.1.0, the 2.x and 3.x lines, and LinkedRootlessKit.
var Versions = []netdriver.Version{
	{Major: 1, Minor: 1},
	{Major: 2},
	{Major: 2, Minor: 1},
	{Major: 2, Minor: 3, Patch: 6},
	{Major: 3},
	{Major: 3, Minor: 1},
	netdriver.LinkedRootlessKit,
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// recordingHost is an empty host that records the programs run on it.
type recordingHost struct {
	mu  sync.Mutex
	ran []string
}

func (r *recordingHost) host() *netdriver.Host {
	return &netdriver.Host{
		PATH: "/usr/bin:/bin",
		FS:   fstest.MapFS{},
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			r.mu.Lock()
			r.ran = append(r.ran, name)
			r.mu.Unlock()
			return nil, errors.New("netdrivertest: no programs on this host")
		},
		Getxattr: func(string, string) ([]byte, error) { return nil, errors.New("netdrivertest: no xattrs") },
		User:     "netdrivertest",
	}
}

// Run runs the conformance tests for the drivers newDriver returns. Each
// call of newDriver MUST return an equal, independent value.
func Run(t *testing.T, newDriver func() netdriver.Driver) {
	t.Helper()
	t.Run("Name", func(t *testing.T) {
		a, b := newDriver(), newDriver()
		n := a.Name()
		if n == "" || !nameRE.MatchString(n) {
			t.Fatalf("Name() = %q; want lowercase letters, digits and '-'", n)
		}
		if a.Name() != n || b.Name() != n {
			t.Errorf("Name() is not stable: %q, %q, %q", n, a.Name(), b.Name())
		}
	})

	t.Run("Properties", func(t *testing.T) {
		d := newDriver()
		p := d.Properties()
		if !reflect.DeepEqual(p, d.Properties()) || !reflect.DeepEqual(p, newDriver().Properties()) {
			t.Errorf("Properties() differs between calls")
		}
		if len(p.PortDrivers) == 0 {
			t.Errorf("PortDrivers is empty; every network accepts at least port driver none")
		}
		if !slices.Contains(p.PortDrivers, p.DefaultPortDriver) {
			t.Errorf("DefaultPortDriver %q is not in PortDrivers %q", p.DefaultPortDriver, p.PortDrivers)
		}
		if len(p.PortDrivers) > 0 && p.PortDrivers[0] != p.DefaultPortDriver {
			t.Errorf("PortDrivers %q must list DefaultPortDriver %q first", p.PortDrivers, p.DefaultPortDriver)
		}
		seen := map[string]bool{}
		for _, n := range p.PortDrivers {
			if seen[n] {
				t.Errorf("PortDrivers lists %q twice", n)
			}
			seen[n] = true
		}
		if p.MTU < 0 || p.MTU > 65521 {
			t.Errorf("MTU %d out of range", p.MTU)
		}
		if !p.Namespace && (p.MTU != 0 || p.DefaultMTU != 0) {
			t.Errorf("no namespace but MTU %d / DefaultMTU %d", p.MTU, p.DefaultMTU)
		}
		if (p.MTU == 0) != (p.DefaultMTU == 0) {
			t.Errorf("MTU %d and DefaultMTU %d: both must be zero (no interface) or both set", p.MTU, p.DefaultMTU)
		}
		if p.HostLoopback && !p.HostGateway.IsValid() {
			t.Errorf("HostLoopback is set but HostGateway is invalid")
		}
		if p.IPv6 && p.MTU != 0 && p.MTU < 1280 {
			t.Errorf("IPv6 with MTU %d < 1280", p.MTU)
		}
		if p.InProcess && p.Program != "" {
			t.Errorf("InProcess but Program %q", p.Program)
		}
		if p.MinRootlessKit.IsZero() {
			t.Errorf("MinRootlessKit is zero")
		}
	})

	t.Run("CheckCancelled", func(t *testing.T) {
		rec := &recordingHost{}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := newDriver().Check(ctx, rec.host())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Check(cancelled ctx) = %v; want an error matching context.Canceled", err)
		}
		if len(rec.ran) != 0 {
			t.Errorf("Check(cancelled ctx) ran %q", rec.ran)
		}
	})

	t.Run("CheckEmptyHost", func(t *testing.T) {
		d := newDriver()
		before := fmt.Sprintf("%#v", d)
		rec := &recordingHost{}
		h := rec.host()
		err1 := d.Check(context.Background(), h)
		err2 := d.Check(context.Background(), h)
		if fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Errorf("Check is not repeatable on the same host:\n%v\n%v", err1, err2)
		}
		if after := fmt.Sprintf("%#v", d); after != before {
			t.Errorf("Check modified the driver: %s -> %s", before, after)
		}
		if h.PATH != "/usr/bin:/bin" || h.User != "netdrivertest" {
			t.Errorf("Check modified the host")
		}
		CheckRemedies(t, "Check", err1)
	})

	t.Run("CheckNilHost", func(t *testing.T) {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("Check(ctx, nil) panicked: %v", r)
			}
		}()
		_ = newDriver().Check(context.Background(), nil)
	})

	t.Run("Flags", func(t *testing.T) {
		d := newDriver()
		p := d.Properties()
		if _, err := d.Flags(netdriver.Version{}, ""); err == nil {
			t.Errorf("Flags(zero Version) succeeded; want an error")
		} else {
			CheckRemedies(t, "Flags(zero Version)", err)
		}
		okBefore := false
		for _, v := range Versions {
			for _, port := range append([]string{""}, p.PortDrivers...) {
				f1, err1 := d.Flags(v, port)
				f2, err2 := newDriver().Flags(v, port)
				if !slices.Equal(f1, f2) || fmt.Sprint(err1) != fmt.Sprint(err2) {
					t.Errorf("Flags(%s, %q) is not deterministic: %q/%v vs %q/%v", v, port, f1, err1, f2, err2)
				}
				if err1 != nil {
					if !errors.Is(err1, netdriver.IDRootlessKitTooOld) && !errors.Is(err1, netdriver.IDInvalidConfig) && !errors.Is(err1, netdriver.IDEmbeddedOnly) {
						t.Errorf("Flags(%s, %q) = %v; want an error matching %s", v, port, err1, netdriver.IDRootlessKitTooOld)
					}
					CheckRemedies(t, fmt.Sprintf("Flags(%s, %q)", v, port), err1)
					continue
				}
				if len(f1) == 0 {
					t.Errorf("Flags(%s, %q) is empty", v, port)
				}
				for _, f := range f1 {
					if len(f) < 3 || f[:2] != "--" {
						t.Errorf("Flags(%s, %q): %q is not a long flag", v, port, f)
					}
				}
			}
			_, err := d.Flags(v, "")
			if err == nil {
				okBefore = true
			} else if okBefore && errors.Is(err, netdriver.IDRootlessKitTooOld) {
				t.Errorf("Flags(%s) is rejected as too old although an older version was accepted", v)
			}
		}
		if f, err := d.Flags(netdriver.LinkedRootlessKit, "no-such-port-driver"); err == nil {
			t.Errorf("Flags(Embedded, unknown port driver) = %q; want an error", f)
		} else if !errors.Is(err, netdriver.IDIncompatible) {
			t.Errorf("Flags(Embedded, unknown port driver) = %v; want an error matching %s", err, netdriver.IDIncompatible)
		}
	})

	t.Run("EncodeDecode", func(t *testing.T) {
		d := newDriver()
		b, err := netdriver.Encode(d)
		if errors.Is(err, netdriver.IDNotBuiltin) {
			t.Skip("not a driver of package netdriver; the embedded engine cannot decode it")
		}
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		got, err := netdriver.Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		want := d
		if rv := reflect.ValueOf(d); rv.Kind() == reflect.Pointer {
			want = rv.Elem().Interface().(netdriver.Driver)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip through %s: got %#v, want %#v", b, got, want)
		}
		f1, e1 := d.Flags(netdriver.LinkedRootlessKit, "")
		f2, e2 := got.Flags(netdriver.LinkedRootlessKit, "")
		if !slices.Equal(f1, f2) || fmt.Sprint(e1) != fmt.Sprint(e2) {
			t.Errorf("decoded driver's flags differ: %q vs %q", f1, f2)
		}
	})

	t.Run("ParentChild", func(t *testing.T) { checkEmbedded(t, newDriver) })
}

// CheckRemedies fails t unless every problem in err's tree is a
// [*diag.Finding] with a valid ID, a severity and a non-empty fix. Context
// errors need none. Driver suites of other packages (portdrivertest) use it
// too.
func CheckRemedies(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var leaves []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		leaves = append(leaves, e)
	}
	walk(err)
	for _, e := range leaves {
		if errors.Is(e, context.Canceled) || errors.Is(e, context.DeadlineExceeded) {
			continue
		}
		f, ok := errors.AsType[*diag.Finding](e)
		switch {
		case !ok:
			t.Errorf("%s: %v (%T) is not a *diag.Finding", what, e, e)
		case !f.ID.Valid():
			t.Errorf("%s: %v: ID %q is not of the form PACKAGE.NAME", what, e, f.ID)
		case f.Severity < diag.Info || f.Severity > diag.Error:
			t.Errorf("%s: %v: severity %d is not info, warning or error", what, e, f.Severity)
		case f.Remedy() == "" && f.Severity != diag.Info:
			t.Errorf("%s: %v has an empty fix", what, e)
		}
	}
}
