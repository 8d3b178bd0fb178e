package idmap

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var alice = User{Name: "alice", UID: 1000, GID: 1000}

func codes(ds []Diag) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Code)
	}
	return out
}

// TestParseLine walks the bad-input table: each line alone in a file, read
// as shadow-utils 4.20 reads it.
func TestParseLine(t *testing.T) {
	const none Verdict = 0
	tests := []struct {
		name    string
		line    string
		verdict Verdict // none: no entry at all
		owner   string
		r       Range
		codes   []string
		alice   []Range // what newuidmap grants alice
	}{
		{"empty", "", none, "", Range{}, nil, nil},
		{"blanks", "   \t", none, "", Range{}, nil, nil},
		{"comment", "# comment", none, "", Range{}, nil, nil},
		{"indented comment", "  # x", none, "", Range{}, nil, nil},
		{"commented-out entry", "#alice:100000:65536", Comment, "alice", Range{100000, 65536}, []string{"commented-entry"}, nil},
		{"by name", "alice:100000:65536", Accepted, "alice", Range{100000, 65536}, nil, []Range{{100000, 65536}}},
		{"by uid", "1000:100000:65536", Accepted, "1000", Range{100000, 65536}, nil, []Range{{100000, 65536}}},
		{"uid with leading zero", "01000:100000:65536", Accepted, "01000", Range{100000, 65536}, nil, []Range{{100000, 65536}}},
		{"crlf", "alice:100000:65536\r", Ignored, "alice", Range{100000, 65536}, []string{"trailing-cr"}, nil},
		{"trailing space", "alice:100000:65536 ", Ignored, "alice", Range{100000, 65536}, []string{"trailing-space"}, nil},
		{"trailing tab", "alice:100000:65536\t", Ignored, "alice", Range{100000, 65536}, []string{"trailing-space"}, nil},
		{"blank after start", "alice:100000 :65536", Ignored, "alice", Range{100000, 65536}, []string{"trailing-space"}, nil},
		{"blank before owner", " alice:100000:65536", Accepted, " alice", Range{100000, 65536}, []string{"owner-space"}, nil},
		{"blank after owner", "alice :1:2", Accepted, "alice ", Range{1, 2}, []string{"owner-space"}, nil},
		{"blank before uid owner", " 1000:100000:65536", Accepted, " 1000", Range{100000, 65536}, []string{"owner-space"}, []Range{{100000, 65536}}},
		{"blank before start", "alice: 100000:65536", Accepted, "alice", Range{100000, 65536}, []string{"leading-space"}, []Range{{100000, 65536}}},
		{"two fields", "alice:100000", Ignored, "alice", Range{}, []string{"fields"}, nil},
		{"one field", "alice", Ignored, "alice", Range{}, []string{"fields"}, nil},
		{"empty start", "alice::65536", Ignored, "alice", Range{}, []string{"empty-field"}, nil},
		{"empty owner", ":1:2", Ignored, "", Range{1, 2}, []string{"empty-field"}, nil},
		{"empty count", "alice:1:", Ignored, "alice", Range{}, []string{"empty-field"}, nil},
		{"four fields", "alice:100000:65536:x", Ignored, "alice", Range{100000, 65536}, []string{"fields"}, nil},
		{"trailing colon", "alice:100000:65536:", Ignored, "alice", Range{100000, 65536}, []string{"fields"}, nil},
		{"hex", "alice:0x186a0:65536", Accepted, "alice", Range{100000, 65536}, []string{"hex"}, []Range{{100000, 65536}}},
		{"hex upper", "alice:0X186A0:0x10000", Accepted, "alice", Range{100000, 65536}, []string{"hex", "hex"}, []Range{{100000, 65536}}},
		{"octal", "alice:0100000:65536", Accepted, "alice", Range{32768, 65536}, []string{"octal"}, []Range{{32768, 65536}}},
		{"harmless zeros", "alice:00:07", Accepted, "alice", Range{0, 7}, nil, []Range{{0, 7}}},
		{"plus", "alice:+100000:65536", Accepted, "alice", Range{100000, 65536}, []string{"sign"}, []Range{{100000, 65536}}},
		{"minus zero", "alice:-0:5", Accepted, "alice", Range{0, 5}, []string{"sign"}, []Range{{0, 5}}},
		{"negative", "alice:-1:65536", Ignored, "alice", Range{}, []string{"bad-number"}, nil},
		{"negative count", "alice:1:-65536", Ignored, "alice", Range{}, []string{"bad-number"}, nil},
		{"bad octal", "alice:08:10", Ignored, "alice", Range{}, []string{"bad-number"}, nil},
		{"hex without digits", "alice:0x:5", Ignored, "alice", Range{}, []string{"bad-number"}, nil},
		{"binary", "alice:0b101:5", Ignored, "alice", Range{}, []string{"bad-number"}, nil},
		{"underscore", "alice:1_000:5", Ignored, "alice", Range{}, []string{"bad-number"}, nil},
		{"unicode digits", "alice:１００:5", Ignored, "alice", Range{}, []string{"bad-number"}, nil},
		{"sign without digits", "alice:+:5", Ignored, "alice", Range{}, []string{"bad-number"}, nil},
		{"zero count", "alice:100000:0", Accepted, "alice", Range{100000, 0}, []string{"zero-count"}, nil},
		{"ends at 2^32", "alice:4294967295:1", Accepted, "alice", Range{4294967295, 1}, []string{"overflow"}, []Range{{4294967295, 1}}},
		{"ends past 2^32-1", "alice:4294901760:65536", Accepted, "alice", Range{4294901760, 65536}, []string{"overflow"}, []Range{{4294901760, 65536}}},
		{"largest count", "alice:0:4294967295", Accepted, "alice", Range{0, 4294967295}, nil, []Range{{0, 4294967295}}},
		{"count 2^32", "alice:0:4294967296", Ignored, "alice", Range{}, []string{"out-of-range"}, nil},
		{"count past 2^32 from start", "alice:1:4294967296", Ignored, "alice", Range{}, []string{"out-of-range"}, nil},
		{"start 2^32", "alice:4294967296:1", Ignored, "alice", Range{}, []string{"out-of-range"}, nil},
		{"count above 2^64", "alice:1:99999999999999999999", Ignored, "alice", Range{}, []string{"out-of-range"}, nil},
		{"too long", strings.Repeat("a", 1100) + ":1:2", Ignored, strings.Repeat("a", 1100), Range{1, 2}, []string{"too-long"}, nil},
		{"1023 bytes", "alice:1:" + strings.Repeat("0", 1014) + "2", Accepted, "alice", Range{1, 2}, nil, []Range{{1, 2}}},
		{"nul", "alice:1\x00:2", Ignored, "", Range{}, []string{"nul"}, nil},
		{"nis plus", "+alice:1:2", Ignored, "", Range{}, []string{"nis"}, nil},
		{"nis minus", "-alice:1:2", Ignored, "", Range{}, []string{"nis"}, nil},
		{"invalid utf-8 owner", "\xff\xfe:1:2", Accepted, "\xff\xfe", Range{1, 2}, nil, nil},
		{"another user", "bob:200000:65536", Accepted, "bob", Range{200000, 65536}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse("/etc/subuid", tt.line+"\n")
			if tt.verdict == none {
				if len(f.Entries) != 0 {
					t.Fatalf("entries = %+v, want none", f.Entries)
				}
			} else {
				if len(f.Entries) != 1 {
					t.Fatalf("entries = %+v, want one", f.Entries)
				}
				e := f.Entries[0]
				if e.Line != 1 || e.Verdict != tt.verdict || e.Owner != tt.owner || e.Range != tt.r {
					t.Errorf("entry = line %d %v %q %v, want line 1 %v %q %v", e.Line, e.Verdict, e.Owner, e.Range, tt.verdict, tt.owner, tt.r)
				}
			}
			if got := codes(f.Diags); !slices.Equal(got, tt.codes) {
				t.Errorf("diag codes = %q, want %q (%v)", got, tt.codes, f.Diags)
			}
			for _, d := range f.Diags {
				if d.Line != 1 || !strings.HasPrefix(d.String(), "/etc/subuid:1: ") {
					t.Errorf("diag %q does not name /etc/subuid:1", d)
				}
			}
			if got := f.Ranges(alice); !slices.Equal(got, tt.alice) {
				t.Errorf("Ranges(alice) = %v, want %v", got, tt.alice)
			}
		})
	}
}

func TestParseNoFinalNewline(t *testing.T) {
	f := parse("/etc/subuid", "bob:1:2\nalice:100000:65536")
	if got := f.Ranges(alice); !slices.Equal(got, []Range{{100000, 65536}}) {
		t.Errorf("Ranges(alice) = %v, want the last line's range (shadow before 4.19 reads it)", got)
	}
	if got := codes(f.Diags); !slices.Equal(got, []string{"no-final-newline"}) {
		t.Fatalf("diags = %v", f.Diags)
	}
	if f.Diags[0].Line != 2 || !f.Diags[0].fileWide {
		t.Errorf("diag = %+v, want a file-wide diag on line 2", f.Diags[0])
	}
	if got := f.userDiags(User{Name: "carol", UID: 5}); len(got) != 1 {
		t.Errorf("a file-wide diag must reach every user, got %v", got)
	}
}

// TestParseOtherUsersLines checks that another user's broken line neither
// breaks nor shows up in this user's lookup.
func TestParseOtherUsersLines(t *testing.T) {
	f := parse("/etc/subuid", "bob:1:2:3\nbob:100000\r\nalice:165536:65536\ncarol:08:1\n")
	if got := f.Ranges(alice); !slices.Equal(got, []Range{{165536, 65536}}) {
		t.Errorf("Ranges(alice) = %v", got)
	}
	if got := f.userDiags(alice); len(got) != 0 {
		t.Errorf("alice sees %v, want none of bob's and carol's diagnostics", got)
	}
	if got := codes(f.userDiags(User{Name: "bob", UID: 1001})); !slices.Equal(got, []string{"fields", "fields"}) {
		t.Errorf("bob's diags = %q", got)
	}
}

func TestParseOwnerMatching(t *testing.T) {
	// A user named "1234" with uid 5000: the name matches exactly, and the
	// owner "1234" is not taken as uid 1234 of someone else.
	data := "1234:100000:65536\n5000:200000:65536\n+5000:300000:1\n0x1388:400000:1\n"
	f := parse("/etc/subuid", data)
	u := User{Name: "1234", UID: 5000}
	if got, want := f.Ranges(u), []Range{{100000, 65536}, {200000, 65536}}; !slices.Equal(got, want) {
		t.Errorf("Ranges(%v) = %v, want %v", u, got, want)
	}
	other := User{Name: "dave", UID: 1234}
	if got, want := f.Ranges(other), []Range{{100000, 65536}}; !slices.Equal(got, want) {
		t.Errorf("Ranges(%v) = %v, want %v (owner 1234 is also uid 1234 to shadow)", other, got, want)
	}
	nameless := User{UID: 5000}
	if got, want := f.Ranges(nameless), []Range{{200000, 65536}}; !slices.Equal(got, want) {
		t.Errorf("Ranges(%v) = %v, want %v", nameless, got, want)
	}
}

// TestParseGolden parses the files in testdata/parse and compares a dump of
// every entry and diagnostic with the .golden file beside each.
func TestParseGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/parse/*.txt")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse("/etc/subuid", strings.NewReader(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, e := range f.Entries {
				fmt.Fprintf(&b, "%d\t%-8v\t%q\t%v\n", e.Line, e.Verdict, e.Owner, e.Range)
			}
			for _, d := range f.Diags {
				fmt.Fprintf(&b, "%-7v %-16s %s\n", d.Severity, d.Code, d)
			}
			for _, u := range []User{alice, {Name: "bob", UID: 1001}} {
				fmt.Fprintf(&b, "%v: newuidmap %v", u, f.Ranges(u))
				if rk := f.rootlessKit(u); rk.errLine != 0 {
					fmt.Fprintf(&b, ", RootlessKit fails at line %d: %s\n", rk.errLine, rk.errMsg)
				} else {
					fmt.Fprintf(&b, ", RootlessKit %v\n", rk.items)
				}
			}
			golden(t, strings.TrimSuffix(in, ".txt")+".golden", b.String())
		})
	}
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// checkRootlessKit compares rootlessKit's prediction with RootlessKit's own
// parser on data, for user u.
func checkRootlessKit(t *testing.T, data string, u User) {
	t.Helper()
	f := parse("/etc/subuid", data)
	got := f.rootlessKit(u)
	want, err := rkParseSubidFile(strings.NewReader(data), "/etc/subuid", int(u.UID), u.Name)
	if (err != nil) != (got.errLine != 0) {
		t.Fatalf("RootlessKit error = %v, prediction %+v, for %q", err, got, data)
	}
	if err != nil {
		return
	}
	if len(want) != len(got.items) {
		t.Fatalf("RootlessKit reads %v, prediction %v, for %q", want, got.items, data)
	}
	for i, w := range want {
		if g := got.items[i]; g.start != w.Start || g.count != w.Length {
			t.Fatalf("RootlessKit reads %v, prediction %v, for %q", want, got.items, data)
		}
	}
}

func TestRootlessKitView(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/parse/*.txt")
	users := []User{alice, {Name: "bob", UID: 1001}, {UID: 1000}, {Name: "carol", UID: 1002}}
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			checkRootlessKit(t, string(data), u)
		}
	}
	for _, line := range []string{"alice: 1:2", " alice:1:2 ", "alice:+1:2", "alice:-1:2", "alice:01:2\r", "1000:0x10:2", "#alice:1:2", "alice:1:2:", "alice:99999999999999999999:1"} {
		checkRootlessKit(t, line+"\n", alice)
	}
}
