package setup

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnifiedDiffPatches checks the diffs with GNU patch: applied to the old text, each must
// give the new one exactly.
func TestUnifiedDiffPatches(t *testing.T) {
	patch, err := exec.LookPath("patch")
	if err != nil {
		t.Skip("patch is not installed")
	}
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"[Unit]", "[Service]", "Type=notify", "KillMode=mixed", "Delegate=yes", "", "# c", "Restart=always"}
	gen := func() string {
		var b strings.Builder
		for range r.IntN(25) {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteString("\n")
		}
		return b.String()
	}
	cases := [][2]string{{"a\nb\nc\n", "a\nc\n"}, {"", "x\n"}, {"x\n", ""}, {"a\n", "b\n"}}
	for range 200 {
		from := gen()
		to := from
		if r.IntN(2) == 0 {
			to = gen()
		} else if lines := splitLines(from); len(lines) > 0 {
			lines[r.IntN(len(lines))] = "Changed=1"
			to = strings.Join(lines, "\n") + "\n"
		}
		cases = append(cases, [2]string{from, to})
	}
	dir := t.TempDir()
	for i, c := range cases {
		d := unifiedDiff("a", "b", c[0], c[1])
		if c[0] == c[1] {
			if d != "" {
				t.Fatalf("case %d: equal texts give a diff:\n%s", i, d)
			}
			continue
		}
		f := filepath.Join(dir, "f")
		if err := os.WriteFile(f, []byte(c[0]), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(patch, "-s", "--no-backup-if-mismatch", f)
		cmd.Stdin = strings.NewReader(d)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("case %d: patch: %v %s\nfrom:\n%q\nto:\n%q\ndiff:\n%s", i, err, out, c[0], c[1], d)
		}
		got, _ := os.ReadFile(f)
		if string(got) != c[1] {
			t.Fatalf("case %d: patched text %q, want %q\ndiff:\n%s", i, got, c[1], d)
		}
	}
}
