package idmap

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
)

// TestValidate runs Validate on small hosts and checks the finding ids; the
// full text (details and remedies) is pinned by testdata/validate.golden.
func TestValidate(t *testing.T) {
	const ok = "alice:100000:65536\n"
	nested := Namespace{InUserNS: true, UID: Map{{0, 100000, 200000}}, GID: Map{{0, 100000, 200000}}}
	split := Namespace{InUserNS: true, UID: Map{{0, 1000, 1}, {1, 100000, 65536}, {65537, 300000, 100000}}, GID: nested.GID}
	tests := []struct {
		name           string
		subuid, subgid string
		user           User
		ns             Namespace
		ids            []diag.ID
	}{
		{name: "healthy", subuid: ok, subgid: ok, user: alice},
		{name: "missing", subuid: "bob:100000:65536\n", subgid: "bob:100000:65536\n", user: alice, ids: []diag.ID{IDSubidsMissing}},
		{name: "too small", subuid: "alice:100000:65534\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidTooSmall}},
		{name: "too small in two pieces is fine", subuid: "alice:100000:32768\nalice:200000:32768\n", subgid: ok, user: alice},
		{name: "zero count", subuid: ok + "alice:300000:0\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidZeroCount, IDSubuidRootlessKit}},
		{name: "overflow", subuid: ok + "alice:4294901760:65536\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidOverflow}},
		{name: "name and uid lines repeat", subuid: ok + "1000:100000:65536\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidDuplicate}},
		{name: "overlap", subuid: ok + "alice:150000:65536\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidOverlap}},
		{name: "adjacent is fine", subuid: ok + "alice:165536:65536\n", subgid: ok, user: alice},
		{name: "shared with bob", subuid: ok + "bob:150000:65536\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidShared}},
		{name: "own uid inside", subuid: "alice:0:1000000\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidContainsSelf}},
		{name: "own gid inside", subuid: ok, subgid: "alice:0:1000000\n", user: alice, ids: []diag.ID{IDSubgidContainsSelf}},
		{name: "LDAP uid inside lima range", subuid: "alice:524288:1073741824\n", subgid: "alice:524288:1073741824\n",
			user: User{Name: "alice", UID: 222586300, GID: 222586300}, ids: []diag.ID{IDSubuidContainsSelf, IDSubgidContainsSelf}},
		{name: "too many extents", subuid: manyRanges(340, 2), subgid: ok, user: alice, ids: []diag.ID{IDSubuidTooSmall, IDSubuidTooManyExtents}},
		{name: "339 ranges fit", subuid: manyRanges(339, 200), subgid: ok, user: alice},
		{name: "CRLF", subuid: "alice:100000:65536\r\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidMissing, IDSubuidTrailingCR, IDSubuidRootlessKit}},
		{name: "octal", subuid: "alice:0100000:65536\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidOctal, IDSubuidRootlessKit}},
		{name: "hex", subuid: "alice:0x186a0:65536\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidHex, IDSubuidRootlessKit}},
		{name: "bob breaks RootlessKit", subuid: ok + "bob:1\n", subgid: ok, user: alice, ids: []diag.ID{IDSubuidRootlessKit}},
		{name: "no final newline", subuid: "alice:100000:65536", subgid: ok, user: alice, ids: []diag.ID{IDSubuidNoFinalNewline}},
		{name: "nameless user", subuid: "1000:100000:65536\n", subgid: "1000:100000:65536\n", user: User{UID: 1000, GID: 1000}, ids: []diag.ID{IDUserUnnamed}},
		{name: "nested, mapped", subuid: ok, subgid: ok, user: alice, ns: nested},
		{name: "nested, unmapped", subuid: "alice:300000:65536\n", subgid: ok, user: alice, ns: nested, ids: []diag.ID{IDSubuidUnmapped}},
		{name: "nested, straddles two extents", subuid: "alice:60000:65536\n", subgid: ok, user: alice, ns: split, ids: []diag.ID{IDSubuidUnmapped}},
		{name: "nested, map not written", subuid: ok, subgid: ok, user: alice, ns: Namespace{InUserNS: true}, ids: []diag.ID{IDSubuidUnmapped, IDSubgidUnmapped}},
	}
	var report strings.Builder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := Lookup(t.Context(), Files{FS: mapFS(tt.subuid, tt.subgid)}, tt.user)
			fs := Validate(s, tt.ns)
			got := idsOf(fs)
			if !slices.Equal(got, tt.ids) {
				t.Errorf("ids = %q, want %q", got, tt.ids)
				for _, f := range fs {
					t.Log(f)
				}
			}
			fmt.Fprintf(&report, "== %s\n", tt.name)
			for _, f := range fs {
				if f.Fix == "" || f.Detail == "" || f.Evidence == "" || f.Severity == 0 {
					t.Errorf("finding %s lacks detail, evidence, remedy or severity: %+v", f.ID, f)
				}
				fmt.Fprintf(&report, "%s %s\n  detail:   %s\n  evidence: %s\n  fix:      %s\n", f.Severity, f.ID, f.Detail, f.Evidence, f.Fix)
			}
		})
	}
	golden(t, "testdata/validate.golden", report.String())
}

func manyRanges(n int, count uint32) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "alice:%d:%d\n", 100000+uint32(i)*1000, count)
	}
	return b.String()
}

func TestValidateGetsubidsSource(t *testing.T) {
	s := &Subids{User: alice, Source: "getsubids",
		UIDs: []Range{{100000, 65536}, {100000, 0}, {4294967295, 1}, {150000, 65536}},
		GIDs: []Range{{100000, 65536}}}
	got := idsOf(Validate(s, Namespace{}))
	want := []diag.ID{IDSubuidZeroCount, IDSubuidOverflow, IDSubuidOverlap}
	if !slices.Equal(got, want) {
		t.Errorf("ids = %q, want %q", got, want)
	}
}

func TestValidateBuiltByHand(t *testing.T) {
	// A Subids made without Lookup still gets its missing ranges reported.
	got := idsOf(Validate(&Subids{User: alice, GIDs: []Range{{100000, 65536}}}, Namespace{}))
	if !slices.Equal(got, []diag.ID{IDSubuidMissing}) {
		t.Errorf("ids = %q", got)
	}
}

// TestFindingError pins how a finding of this package reads as an error.
func TestFindingError(t *testing.T) {
	_, err := Lookup(t.Context(), Files{FS: mapFS("bob:100000:65536\n", "alice:100000:65536\n")}, alice)
	f, ok := errors.AsType[*diag.Finding](err)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	const want = "idmap.subuid-missing: no subuid ranges for alice (uid 1000) in /etc/subuid: idmap: no subordinate ids (fix: run: sudo usermod --add-subuids 165536-231071 alice)"
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if f.Unwrap() != ErrNoRanges || f.Remedy() != "run: sudo usermod --add-subuids 165536-231071 alice" || f.Evidence != "/etc/subuid" {
		t.Errorf("finding = %+v", f)
	}
}
