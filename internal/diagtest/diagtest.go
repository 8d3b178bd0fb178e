// Package diagtest checks, in a package's tests, that the IDs its findings
// carry are the ones its IDs function lists.
//
// A package that reports [diag.Finding] values declares each ID as a
// constant of type diag.ID and lists them all in IDs(). [CheckIDs] proves
// the list complete from the source: every such constant is listed, every
// listed ID is declared, and no ID is written anywhere else, so a finding
// cannot carry an ID the list misses. [Finding] checks one finding that a
// test produced.
package diagtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
)

// CheckIDs parses the non-test Go files of the package in dir (for every
// GOOS) and fails t unless:
//   - the constants of type diag.ID are exactly ids, each once, each named
//     IDxxx and valid, with the prefix pkg + ".";
//   - no ID is written outside those constants: no string literal that starts
//     with pkg + "." and no conversion to diag.ID.
//
// atLeast is the least number of constants expected; fewer means the check no
// longer sees the sources.
func CheckIDs(t testing.TB, dir, pkg string, ids []diag.ID, atLeast int) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	declared := map[diag.ID]string{} // value → constant name
	prefix := strconv.Quote(pkg + ".")
	prefix = prefix[:len(prefix)-1]
	inline := func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if n.Kind == token.STRING && strings.HasPrefix(n.Value, prefix) {
				t.Errorf("%s: ID %s written inline: declare an ID constant and add it to IDs", fset.Position(n.Pos()), n.Value)
			}
		case *ast.CallExpr:
			if isSel(n.Fun, "diag", "ID") {
				t.Errorf("%s: ID made by conversion: declare an ID constant and add it to IDs", fset.Position(n.Pos()))
			}
		}
		return true
	}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, filepath.Base(name), src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			d, ok := n.(*ast.GenDecl)
			if !ok || d.Tok != token.CONST {
				return inline(n)
			}
			for _, spec := range d.Specs {
				vs := spec.(*ast.ValueSpec)
				if vs.Type == nil || !isSel(vs.Type, "diag", "ID") {
					ast.Inspect(vs, inline)
					continue
				}
				for i, name := range vs.Names {
					pos := fset.Position(name.Pos())
					if i >= len(vs.Values) {
						t.Errorf("%s: %s has no value", pos, name.Name)
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Errorf("%s: %s is not a plain string literal", pos, name.Name)
						continue
					}
					v, _ := strconv.Unquote(lit.Value)
					if prev, dup := declared[diag.ID(v)]; dup {
						t.Errorf("%s: %s repeats the value of %s", pos, name.Name, prev)
					}
					declared[diag.ID(v)] = name.Name
					if !strings.HasPrefix(name.Name, "ID") || !ast.IsExported(name.Name) {
						t.Errorf("%s: ID constant %s is not named IDxxx", pos, name.Name)
					}
				}
			}
			return false
		})
	}
	listed := map[diag.ID]bool{}
	for _, id := range ids {
		if listed[id] {
			t.Errorf("IDs lists %s twice", id)
		}
		listed[id] = true
		if !id.Valid() || !strings.HasPrefix(string(id), pkg+".") {
			t.Errorf("ID %q is not of the form %s.NAME", id, pkg)
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
	if len(declared) < atLeast {
		t.Errorf("found only %d ID constants in %s, want at least %d: does this check still see the sources?", len(declared), dir, atLeast)
	}
}

// Finding fails t unless f carries one of ids, a severity of Info, Warning
// or Error, a detail, and a fix unless it is of severity Info.
func Finding(t testing.TB, ids []diag.ID, f *diag.Finding) {
	t.Helper()
	if !slices.Contains(ids, f.ID) {
		t.Errorf("finding %s is not in IDs", f.ID)
	}
	if f.Severity < diag.Info || f.Severity > diag.Error {
		t.Errorf("finding %s has severity %d", f.ID, int(f.Severity))
	}
	if f.Detail == "" || f.Fix == "" && f.Severity != diag.Info {
		t.Errorf("finding %s lacks a detail or a fix: %+v", f.ID, f)
	}
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
