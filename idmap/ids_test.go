package idmap

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/diagtest"
)

// TestIDsComplete proves from the sources that IDs lists every ID a
// finding can carry.
func TestIDsComplete(t *testing.T) {
	diagtest.CheckIDs(t, ".", "idmap", IDs(), 60)
}

// TestLineCodesHaveIDs proves that every line problem the parser reports
// with severity Warning or Error has a finding ID of its own (lineIDs),
// so that lineID never falls back.
func TestLineCodesHaveIDs(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "file.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	check := func(pos token.Pos, sev ast.Expr, code ast.Expr) {
		lit, ok := code.(*ast.BasicLit)
		if !ok {
			if _, variable := code.(*ast.SelectorExpr); variable {
				return // Diag{Code: is.code}: the codes given to res.add
			}
			t.Errorf("%s: the code is not a string literal", fset.Position(pos))
			return
		}
		c, _ := strconv.Unquote(lit.Value)
		seen[c] = true
		if s, ok := sev.(*ast.SelectorExpr); ok && s.Sel.Name == "Info" {
			return // lineFindings leaves Info out
		}
		if _, ok := lineIDs[c]; !ok {
			t.Errorf("%s: line problem %q has no entry in lineIDs", fset.Position(pos), c)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if s, ok := n.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "add" && len(n.Args) == 3 {
				check(n.Pos(), n.Args[0], n.Args[1])
			}
		case *ast.CompositeLit:
			if id, ok := n.Type.(*ast.Ident); !ok || id.Name != "Diag" {
				return true
			}
			var sev, code ast.Expr
			for _, e := range n.Elts {
				kv := e.(*ast.KeyValueExpr)
				switch kv.Key.(*ast.Ident).Name {
				case "Severity":
					sev = kv.Value
				case "Code":
					code = kv.Value
				}
			}
			if code == nil {
				t.Errorf("%s: Diag without a code", fset.Position(n.Pos()))
				return true
			}
			check(n.Pos(), sev, code)
		}
		return true
	})
	if len(seen) < 15 {
		t.Errorf("found only %d codes in file.go: does this test still see the parser?", len(seen))
	}
	for c := range lineIDs {
		if !seen[c] {
			t.Errorf("lineIDs has %q, which the parser never reports", c)
		}
	}
}

// TestFindingsCarryListedIDs drives every ID of IDs into a finding, and
// checks that each finding carries a listed ID, a valid severity and
// evidence.
func TestFindingsCarryListedIDs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("newuidmap and newgidmap are Linux only")
	}
	all := IDs()
	reached := map[diag.ID]bool{}
	check := func(fs []*diag.Finding) {
		t.Helper()
		for _, f := range fs {
			reached[f.ID] = true
			diagtest.Finding(t, all, f)
			if f.Evidence == "" {
				t.Errorf("finding %s has no evidence: %v", f.ID, f)
			}
		}
	}
	// One line for each problem, in both files.
	lines := "alice:100000:65536\r\nalice: 1:2\nalice:010:2\nalice:0x1:2\nalice:+1:2\n alice :1:2\nalice:1:0\nalice:4294967295:2\n" +
		"+alice\nalice:1\nalice::1\nalice:x:1\nalice:1 :1\nalice:99999999999:1\nalice:1:2\x00\n" + "alice:" + strings.Repeat("1", 1100) + ":1\n" +
		"alice:100000:65536\nalice:100000:65536\nalice:150000:65536\nbob:100000:65536\nalice:0:2000\nalice:5:6"
	for _, ns := range []Namespace{{}, {InUserNS: true}} {
		s, err := Lookup(t.Context(), Files{FS: mapFS(lines, lines)}, alice)
		check(diag.List(err))
		check(Validate(s, ns))
	}
	for _, tt := range []struct {
		subuid, subgid string
		user           User
	}{
		{"-", "-", alice},
		{"bob:1:2\n", "alice:100000:65536\n", alice},
		{"alice:100000:65536\n", "bob:1:2\n", alice},
		{"1000:100000:65536\n", "1000:100000:65536\n", User{UID: 1000, GID: 1000}},
		{manyRanges(340, 2), manyRanges(340, 2), alice},
	} {
		s, err := Lookup(t.Context(), Files{FS: mapFS(tt.subuid, tt.subgid)}, tt.user)
		check(diag.List(err))
		check(Validate(s, Namespace{}))
	}
	for _, deny := range []string{"etc/subuid", "etc/subgid"} {
		_, err := Lookup(t.Context(), Files{FS: denyFS{mapFS("", ""), deny}}, alice)
		check(diag.List(err))
	}
	sss := mapFS("alice:100000:65536\n", "alice:100000:65536\n")
	sss["etc/nsswitch.conf"] = &fstest.MapFile{Data: []byte("subid: sss\n")}
	s, _ := Lookup(t.Context(), Files{FS: sss}, alice)
	check(Validate(s, Namespace{}))
	for _, rs := range [][]Range{{{1, 0}, {4294967295, 2}}, nil} {
		check(Validate(&Subids{User: alice, Source: "getsubids", UIDs: rs, GIDs: rs}, Namespace{}))
	}

	for _, outputs := range []map[string]string{
		{"-g_alice.exit": "2", "-g_1000.exit": "2"}, // subuid unknown, getsubids failed for gids
		{"alice": "0: alice 100000 65536\n"},        // subgid unknown
	} {
		_, err := Lookup(t.Context(), fakeGetsubids(t, outputs), alice)
		check(diag.List(err))
	}
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	t.Setenv("GETSUBIDS", "")
	_, err := Lookup(t.Context(), Getsubids{}, alice)
	check(diag.List(err))
	for _, name := range []string{"newuidmap", "newgidmap"} {
		_, err := FindHelper(name) // not in $PATH
		check(diag.List(err))
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err = FindHelper(path) // neither setuid nor capable
		check(diag.List(err))
	}

	for _, id := range all {
		if !reached[id] {
			t.Errorf("no finding carries %s: drive it here, or drop it if nothing reports it", id)
		}
	}
}
