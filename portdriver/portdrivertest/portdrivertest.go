// Package portdrivertest checks that a [portdriver.Driver] keeps the
// contract documented on the interface, in the spirit of
// testing/slogtest. A third-party port driver proves itself with one call:
//
//	func TestConformance(t *testing.T) {
//		portdrivertest.Run(t, func() portdriver.Driver { return myport.New() })
//	}
//
// Run pairs the driver with every network driver of package netdriver and
// checks, without creating a namespace: names, properties, Check's
// handling of a done context and of incompatible networks, that Flags is
// deterministic, version-gated and agrees with [portdriver.Validate], the
// Encode/Decode round trip of this module's drivers, and, on Linux, what the
// embedded engine's Parent and Child return.
package portdrivertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/netdriver/netdrivertest"
	"github.com/rootlessd/rootlessd/portdriver"
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// networks returns the zero value of every network driver of netdriver.
func networks() []netdriver.Driver {
	var out []netdriver.Driver
	for _, n := range netdriver.Names() {
		d, _ := netdriver.Named(n)
		out = append(out, d)
	}
	return out
}

func emptyHost() *netdriver.Host {
	return &netdriver.Host{
		PATH: "/usr/bin",
		FS:   fstest.MapFS{},
		Run: func(context.Context, string, ...string) ([]byte, error) {
			return nil, errors.New("portdrivertest: no programs on this host")
		},
		User: "portdrivertest",
	}
}

// Run runs the conformance tests for the port drivers newDriver returns.
// Each call of newDriver MUST return an equal, independent value.
func Run(t *testing.T, newDriver func() portdriver.Driver) {
	t.Helper()
	t.Run("Name", func(t *testing.T) {
		n := newDriver().Name()
		if !nameRE.MatchString(n) {
			t.Fatalf("Name() = %q; want lowercase letters, digits and '-'", n)
		}
		if newDriver().Name() != n {
			t.Errorf("Name() is not stable")
		}
	})

	t.Run("Properties", func(t *testing.T) {
		d := newDriver()
		p := d.Properties()
		if !reflect.DeepEqual(p, d.Properties()) || !reflect.DeepEqual(p, newDriver().Properties()) {
			t.Errorf("Properties() differs between calls")
		}
		if p.API != (len(p.Protos) > 0) {
			t.Errorf("API %v but Protos %q", p.API, p.Protos)
		}
		for _, pr := range p.Protos {
			if !pr.Valid() {
				t.Errorf("invalid protocol %q", pr)
			}
		}
		if len(p.Networks) == 0 {
			t.Errorf("Networks is empty")
		}
		if p.API && p.Binder == portdriver.BinderNone {
			t.Errorf("API without a Binder")
		}
		if p.MinRootlessKit.IsZero() {
			t.Errorf("MinRootlessKit is zero")
		}
		if (p.SourceIP == netdriver.SourceIPNA) != (p.Throughput == netdriver.ThroughputNA) {
			t.Errorf("SourceIP %v and Throughput %v: both or neither must be n/a", p.SourceIP, p.Throughput)
		}
	})

	t.Run("CheckCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, n := range networks() {
			if err := newDriver().Check(ctx, emptyHost(), n); !errors.Is(err, context.Canceled) {
				t.Errorf("Check(cancelled ctx, %s) = %v; want context.Canceled", n.Name(), err)
			}
		}
	})

	t.Run("CheckNetworks", func(t *testing.T) {
		d := newDriver()
		for _, n := range networks() {
			err := d.Check(context.Background(), emptyHost(), n)
			verr := portdriver.Validate(n, d)
			if verr != nil && !errors.Is(err, netdriver.IDIncompatible) {
				t.Errorf("Check with incompatible network %s = %v; want an error matching %s", n.Name(), err, netdriver.IDIncompatible)
			}
			if verr == nil && errors.Is(err, netdriver.IDIncompatible) {
				t.Errorf("Check with compatible network %s reports incompatibility: %v", n.Name(), err)
			}
			netdrivertest.CheckRemedies(t, "Check with "+n.Name(), err)
		}
	})

	t.Run("Flags", func(t *testing.T) {
		d := newDriver()
		for _, n := range networks() {
			if _, err := d.Flags(netdriver.Version{}, n); err == nil {
				t.Errorf("Flags(zero Version, %s) succeeded", n.Name())
			}
			compatible := portdriver.Validate(n, d) == nil
			okBefore := false
			for _, v := range netdrivertest.Versions {
				f1, err1 := d.Flags(v, n)
				f2, err2 := newDriver().Flags(v, n)
				if !slices.Equal(f1, f2) || fmt.Sprint(err1) != fmt.Sprint(err2) {
					t.Errorf("Flags(%s, %s) is not deterministic", v, n.Name())
				}
				switch {
				case err1 == nil && !compatible:
					t.Errorf("Flags(%s, %s) = %q; Validate says incompatible", v, n.Name(), f1)
				case err1 != nil && compatible && !errors.Is(err1, netdriver.IDRootlessKitTooOld) && !errors.Is(err1, netdriver.IDInvalidConfig) && !errors.Is(err1, netdriver.IDEmbeddedOnly):
					t.Errorf("Flags(%s, %s) = %v; want success, a version error or %s", v, n.Name(), err1, netdriver.IDEmbeddedOnly)
				case err1 == nil && !slices.Contains(f1, "--port-driver="+d.Name()):
					t.Errorf("Flags(%s, %s) = %q lacks --port-driver=%s", v, n.Name(), f1, d.Name())
				}
				netdrivertest.CheckRemedies(t, fmt.Sprintf("Flags(%s, %s)", v, n.Name()), err1)
				if compatible {
					if err1 == nil {
						okBefore = true
					} else if okBefore && errors.Is(err1, netdriver.IDRootlessKitTooOld) {
						t.Errorf("Flags(%s, %s) refused as too old after an older version was accepted", v, n.Name())
					}
				}
			}
		}
	})

	t.Run("EncodeDecode", func(t *testing.T) {
		d := newDriver()
		b, err := portdriver.Encode(d)
		if errors.Is(err, netdriver.IDNotBuiltin) {
			t.Skip("not a driver of package portdriver; the embedded engine cannot decode it")
		}
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		got, err := portdriver.Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		want := d
		if rv := reflect.ValueOf(d); rv.Kind() == reflect.Pointer {
			want = rv.Elem().Interface().(portdriver.Driver)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip through %s: got %#v, want %#v", b, got, want)
		}
	})

	t.Run("ParentChild", func(t *testing.T) { checkEmbedded(t, newDriver) })
}
