package portdriver_test

import (
	"reflect"
	"testing"

	"github.com/rootless-containers/rootlesskit/v3/pkg/port/portutil"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// Seed corpora live in testdata/fuzz/FuzzNAME; run e.g.
// go test -fuzz=FuzzParseSpec -fuzztime=30s ./portdriver

func FuzzParseSpec(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := portdriver.ParseSpec(s)
		if err != nil {
			return
		}
		if err := sp.Validate(); err != nil {
			t.Fatalf("%q parsed but does not validate: %v", s, err)
		}
		again, err := portdriver.ParseSpec(sp.String())
		if err != nil || again != sp {
			t.Fatalf("%q -> %v -> %#v, %v", s, sp, again, err)
		}
		rk := sp.RootlessKit()
		if err := portutil.ValidatePortSpec(rk, nil); err != nil {
			t.Fatalf("RootlessKit rejects %q: %v", s, err)
		}
		back, err := portdriver.FromRootlessKit(rk)
		if err != nil || back != sp {
			t.Fatalf("FromRootlessKit(%+v) = %v, %v; want %v", rk, back, err, sp)
		}
		if f, err := portdriver.PublishFlags(portdriver.Builtin{}, sp); err != nil || len(f) != 1 {
			t.Fatalf("PublishFlags(%v) = %q, %v", sp, f, err)
		} else if _, err := portutil.ParsePortSpec(f[0][len("--publish="):]); err != nil {
			t.Fatalf("RootlessKit cannot parse %s: %v", f[0], err)
		}
	})
}

func FuzzParseFileCaps(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := portdriver.ParseFileCaps(b)
		if err != nil {
			return
		}
		if n := len(b); n != 12 && n != 20 && n != 24 {
			t.Fatalf("accepted %d bytes", n)
		}
		if c.Revision < 1 || c.Revision > 3 || c.Revision != 3 && c.RootID != 0 {
			t.Fatalf("bad caps %+v", c)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := portdriver.Decode(b)
		if err != nil {
			return
		}
		enc, err := portdriver.Encode(d)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)): %v", b, err)
		}
		d2, err := portdriver.Decode(enc)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip %q -> %s -> %#v, %v", b, enc, d2, err)
		}
		_ = d.Properties()
		for _, n := range netdriver.Names() {
			nd, _ := netdriver.Named(n)
			_, _ = d.Flags(netdriver.LinkedRootlessKit, nd)
			_ = portdriver.Validate(nd, d)
		}
	})
}
