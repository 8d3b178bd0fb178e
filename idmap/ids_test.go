package idmap

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/diag"
)

// parsePackage parses the package's non-test sources, for every GOOS.
func parsePackage(t *testing.T) (*token.FileSet, map[string]*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = f
	}
	if len(files) == 0 {
		t.Fatal("no sources found")
	}
	return fset, files
}

// isSel reports whether e is pkg.name.
func isSel(e ast.Expr, pkg, name string) bool {
	s, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := s.X.(*ast.Ident)
	return ok && x.Name == pkg && s.Sel.Name == name
}

// TestIDsComplete proves that IDs lists every ID a finding can carry: every
// constant of type diag.ID in the sources is in the list and the other way
// round, and no ID is written anywhere else (a string literal "idmap.…" or a
// conversion to diag.ID outside those constants), so a finding can only
// carry one of the constants.
func TestIDsComplete(t *testing.T) {
	fset, files := parsePackage(t)
	declared := map[diag.ID]string{} // value → constant name
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GenDecl:
				if n.Tok != token.CONST {
					return true
				}
				for _, spec := range n.Specs {
					vs := spec.(*ast.ValueSpec)
					if vs.Type == nil || !isSel(vs.Type, "diag", "ID") {
						ast.Inspect(vs, func(n ast.Node) bool { return checkNoInlineID(t, fset, n) })
						continue
					}
					for i, name := range vs.Names {
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !ok {
							t.Errorf("%s: %s is not a plain string literal", fset.Position(name.Pos()), name.Name)
							continue
						}
						v, _ := strconv.Unquote(lit.Value)
						if prev, dup := declared[diag.ID(v)]; dup {
							t.Errorf("%s: %s repeats the value of %s", fset.Position(name.Pos()), name.Name, prev)
						}
						declared[diag.ID(v)] = name.Name
						if !strings.HasPrefix(name.Name, "ID") || !ast.IsExported(name.Name) {
							t.Errorf("%s: ID constant %s is not named IDxxx", fset.Position(name.Pos()), name.Name)
						}
					}
				}
				return false
			default:
				return checkNoInlineID(t, fset, n)
			}
		})
	}
	listed := map[diag.ID]bool{}
	for _, id := range IDs() {
		if listed[id] {
			t.Errorf("IDs lists %s twice", id)
		}
		listed[id] = true
		if !id.Valid() || !strings.HasPrefix(string(id), "idmap.") {
			t.Errorf("ID %q is not of the form idmap.NAME", id)
		}
		if _, ok := declared[id]; !ok {
			t.Errorf("IDs lists %s, which no constant declares", id)
		}
	}
	for id, name := range declared {
		if !listed[id] {
			t.Errorf("%s (%s) is missing from IDs", name, id)
		}
	}
	if len(declared) < 60 {
		t.Errorf("found only %d ID constants: does this test still see the sources?", len(declared))
	}
}

// checkNoInlineID reports an ID written outside the ID constants.
func checkNoInlineID(t *testing.T, fset *token.FileSet, n ast.Node) bool {
	switch n := n.(type) {
	case *ast.BasicLit:
		if n.Kind == token.STRING && strings.HasPrefix(n.Value, `"idmap.`) {
			t.Errorf("%s: ID %s written inline: declare an ID constant and add it to IDs", fset.Position(n.Pos()), n.Value)
		}
	case *ast.CallExpr:
		if isSel(n.Fun, "diag", "ID") {
			t.Errorf("%s: ID made by conversion: declare an ID constant and add it to IDs", fset.Position(n.Pos()))
		}
	}
	return true
}

// TestLineCodesHaveIDs proves that every line problem the parser reports
// with severity Warning or Error has a finding ID of its own (lineIDs),
// so that lineID never falls back.
func TestLineCodesHaveIDs(t *testing.T) {
	fset, files := parsePackage(t)
	f := files["file.go"]
	if f == nil {
		t.Fatal("file.go not found")
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
		if isSel(sev, "diag", "Info") {
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
			if !slices.Contains(all, f.ID) {
				t.Errorf("finding %s is not in IDs", f.ID)
			}
			if f.Severity < diag.Info || f.Severity > diag.Error {
				t.Errorf("finding %s has severity %d", f.ID, f.Severity)
			}
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
