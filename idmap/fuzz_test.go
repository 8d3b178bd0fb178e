package idmap

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/diag"
)

// The seed corpora live in testdata/fuzz/Fuzz*/. Run a target with, for
// example: go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s ./idmap

func FuzzParse(f *testing.F) {
	f.Add("alice:100000:65536\n1000:165536:65536\n", uint32(1000), "alice")
	ids := IDs()
	f.Fuzz(func(t *testing.T, data string, uid uint32, name string) {
		if strings.ContainsAny(name, ":\n") {
			name = ""
		}
		u := User{Name: name, UID: uid, GID: uid}
		file := parse("/etc/subuid", data)
		nlines := strings.Count(data, "\n") + 1
		last := 0
		for _, e := range file.Entries {
			if e.Line <= last || e.Line > nlines {
				t.Fatalf("entry line %d after %d (of %d)", e.Line, last, nlines)
			}
			last = e.Line
			if e.Verdict == Accepted {
				if e.Owner == "" || strings.Contains(e.Owner, ":") || e.Range.End() > 1<<32 || uint64(e.Range.Count) > MaxID {
					t.Fatalf("accepted entry %+v breaks shadow's bounds", e)
				}
				// shadow reads its own output format back the same way.
				canon := parse("x", e.Owner+":"+itoa(e.Range.Start)+":"+itoa(e.Range.Count)+"\n")
				if strings.TrimSpace(e.Owner) == e.Owner && e.Owner[0] != '#' && e.Owner[0] != '+' && e.Owner[0] != '-' && !strings.ContainsRune(e.Owner, 0) && len(e.Owner) < 1000 {
					if len(canon.Entries) != 1 || canon.Entries[0].Range != e.Range || canon.Entries[0].Verdict != Accepted {
						t.Fatalf("%+v does not read back: %+v", e, canon.Entries)
					}
				}
			}
		}
		for _, d := range file.Diags {
			if d.Line < 1 || d.Line > nlines || !strings.HasPrefix(d.String(), "/etc/subuid:") || d.Code == "" || d.Severity < diag.Info || d.Severity > diag.Error {
				t.Fatalf("bad diag %+v", d)
			}
		}
		for _, r := range file.Ranges(u) {
			if r.Count == 0 {
				t.Fatalf("Ranges returned an empty range")
			}
		}
		checkRootlessKit(t, data, u)
		s, _ := Lookup(t.Context(), Files{FS: fstest.MapFS{
			"etc/subuid": {Data: []byte(data)}, "etc/subgid": {Data: []byte(data)},
		}}, u)
		for _, fd := range Validate(s, Namespace{}) {
			if !slices.Contains(ids, fd.ID) || fd.Severity < diag.Info || fd.Severity > diag.Error || fd.Detail == "" || fd.Evidence == "" || fd.Fix == "" {
				t.Fatalf("incomplete finding %+v", fd)
			}
		}
	})
}

func FuzzParseGetsubids(f *testing.F) {
	f.Add("0: alice 100000 65536\n")
	f.Fuzz(func(t *testing.T, data string) {
		rs, diags, err := ParseGetsubids("getsubids alice", strings.NewReader(data))
		if err != nil {
			if rs != nil || !strings.HasPrefix(err.Error(), "idmap: getsubids alice") {
				t.Fatalf("err = %v with ranges %v", err, rs)
			}
			return
		}
		for _, d := range diags {
			if d.Line < 1 || d.Code != "getsubids-columns" {
				t.Fatalf("bad diag %+v", d)
			}
		}
	})
}

func FuzzParseMap(f *testing.F) {
	f.Add("         0       1000          1\n         1     100000      65536\n")
	f.Fuzz(func(t *testing.T, data string) {
		m, err := ParseMap("uid_map", strings.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "idmap: uid_map:") {
				t.Fatalf("err = %v", err)
			}
			return
		}
		back, err := ParseMap("again", strings.NewReader(m.String()))
		if err != nil || !slices.Equal(back, m) {
			t.Fatalf("round trip: %v, %v, want %v", back, err, m)
		}
		for _, e := range m {
			if h, ok := m.ToHost(e.Container); !ok || (h != e.Host && slices.Index(m, e) == 0) {
				t.Fatalf("ToHost(%d) = %d, %v in %v", e.Container, h, ok, m)
			}
		}
	})
}

func FuzzParseNSSwitch(f *testing.F) {
	f.Add("passwd: files\nsubid: sss\n")
	f.Fuzz(func(t *testing.T, data string) {
		n, err := ParseNSSwitch("/etc/nsswitch.conf", strings.NewReader(data))
		if err != nil || n.Module == "" || (n.Module != "files" && n.Line == 0) || strings.ContainsAny(n.Module, " \t\n") {
			t.Fatalf("= %+v, %v", n, err)
		}
	})
}

func FuzzFileCaps(f *testing.F) {
	f.Add(capsV2(true, 1<<7))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseFileCaps(b)
		if err == nil && (c.version < 1 || c.version > 3) {
			t.Fatalf("version %d accepted", c.version)
		}
		h := Helper{Name: "newuidmap", Path: "/x"}
		judgeHelper(&h, 0o755, 0, b)
		if h.Caps != (err == nil && c.permitted&(1<<7) != 0) {
			t.Fatalf("Caps = %v for %x", h.Caps, b)
		}
	})
}

// FuzzNewMap compares NewMap with RootlessKit's own map builder.
func FuzzNewMap(f *testing.F) {
	f.Add(uint32(1000), []byte{0xa0, 0x86, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, self uint32, b []byte) {
		var rs []Range
		for len(b) >= 8 && len(rs) < 400 {
			rs = append(rs, Range{binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])})
			b = b[8:]
		}
		m, err := NewMap(self, rs)
		if err != nil {
			return // more ids than a namespace holds; RootlessKit would hand newuidmap an impossible map
		}
		if got, want := m.Args(), rkMapArgs(int(self), toRK(rs)); !slices.Equal(got, want) {
			t.Fatalf("NewMap(%d, %v) = %q, RootlessKit %q", self, rs, got, want)
		}
		if h, ok := m.ToHost(0); !ok || h != self {
			t.Fatalf("container 0 maps to %d, %v", h, ok)
		}
	})
}
