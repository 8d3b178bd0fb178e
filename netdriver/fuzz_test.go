package netdriver_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
)

// Seed corpora live in testdata/fuzz/FuzzNAME; run e.g.
// go test -fuzz=FuzzParseRoutes -fuzztime=30s ./netdriver

func FuzzParseVersion(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		v, err := netdriver.ParseVersion(s)
		if err != nil {
			return
		}
		w, err := netdriver.ParseVersion(v.String())
		if err != nil || w != v {
			t.Fatalf("%q -> %v -> %v, %v", s, v, w, err)
		}
		if v.Major < 0 || v.Minor < 0 || v.Patch < 0 {
			t.Fatalf("negative version %v from %q", v, s)
		}
	})
}

func FuzzParsePastaVersion(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := netdriver.ParsePastaVersion(b)
		if err != nil {
			return
		}
		if !v.Known() {
			if v.AtLeast(netdriver.PastaMinimum) {
				t.Fatalf("unknown version %q counts as new enough", v.Raw)
			}
			return
		}
		w, err := netdriver.ParsePastaVersion([]byte("pasta " + v.String()))
		if err != nil || !w.Date.Equal(v.Date) || w.Commit != v.Commit {
			t.Fatalf("%q -> %v -> %v, %v", b, v, w, err)
		}
	})
}

func FuzzParseSlirp4netnsHelp(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		got := netdriver.ParseSlirp4netnsHelp(b)
		// More output never removes a feature.
		more := netdriver.ParseSlirp4netnsHelp(append(append(bytes.Clone(b), '\n'), b...))
		g, m := reflect.ValueOf(got), reflect.ValueOf(more)
		for i := 0; i < g.NumField(); i++ {
			if g.Field(i).Bool() && !m.Field(i).Bool() {
				t.Fatalf("feature %s lost when output grows", g.Type().Field(i).Name)
			}
		}
		if v, err := netdriver.ParseSlirp4netnsVersion(b); err == nil && v.IsZero() && !strings.Contains(string(b), "0.0.0") {
			t.Fatalf("zero version from %q", b)
		}
	})
}

func FuzzParseRoutes(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		rts, err := netdriver.ParseRoutes(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, r := range rts {
			if !r.Destination.IsValid() || r.Destination.Masked() != r.Destination || !r.Destination.Addr().Is4() {
				t.Fatalf("bad destination %v", r.Destination)
			}
			if r.Iface == "" || strings.ContainsAny(r.Iface, "/\x00") {
				t.Fatalf("bad interface %q", r.Iface)
			}
		}
	})
}

func FuzzParseLXCUserNet(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range netdriver.ParseLXCUserNet(bytes.NewReader(b)) {
			if e.Count < 0 || e.Who == "" || e.Bridge == "" {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := netdriver.Decode(b)
		if err != nil {
			return
		}
		enc, err := netdriver.Encode(d)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)): %v", b, err)
		}
		d2, err := netdriver.Decode(enc)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip %q -> %s -> %#v, %v", b, enc, d2, err)
		}
		// None of the methods may panic on a decoded value.
		_ = d.Properties()
		_, _ = d.Flags(netdriver.LinkedRootlessKit, "")
		_, _ = d.Flags(netdriver.Version{Major: 1, Minor: 1}, "builtin")
		_, _ = netdriver.DetachNetNSFlags(netdriver.LinkedRootlessKit, d)
	})
}
