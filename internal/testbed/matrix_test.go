//go:build linux

package testbed

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's driver matrix from Matrix")

const (
	readme      = "../../README.md"
	matrixBegin = "<!-- driver matrix: generated from internal/testbed.Matrix by go test ./internal/testbed -update -->"
	matrixEnd   = "<!-- end of driver matrix -->"
)

// matrixTable renders Matrix as the README's table: a row per network and port driver, a
// column per engine; "–" where the engine does not offer the pair.
func matrixTable() string {
	engines := []MatrixEngine{Embedded, CurrentRootlessKit, DistroRootlessKit}
	type pair struct{ net, port string }
	var pairs []pair
	for c := range Matrix {
		if p := (pair{c.Network, c.Port}); !slices.Contains(pairs, p) {
			pairs = append(pairs, p)
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.net+" "+a.port, b.net+" "+b.port) })
	var b strings.Builder
	b.WriteString("| network | port |")
	for _, e := range engines {
		fmt.Fprintf(&b, " %s |", e)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(engines)) + "\n")
	for _, p := range pairs {
		fmt.Fprintf(&b, "| %s | %s |", p.net, p.port)
		for _, e := range engines {
			v, ok := Matrix[Cell{e, p.net, p.port}]
			switch {
			case !ok:
				b.WriteString(" – |")
			case v.Works:
				b.WriteString(" works |")
			default:
				fmt.Fprintf(&b, " refused: %s |", v.Why)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestREADMEMatrix: the README's driver matrix is the pinned one.
func TestREADMEMatrix(t *testing.T) {
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, matrixBegin), strings.Index(s, matrixEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q and %q", readme, matrixBegin, matrixEnd)
	}
	got, want := s[i+len(matrixBegin)+1:j], matrixTable()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(readme, []byte(s[:i+len(matrixBegin)+1]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's driver matrix is not testbed.Matrix (go test ./internal/testbed -update rewrites it):\n got:\n%s\nwant:\n%s", got, want)
}
