package setup

import (
	"fmt"
	"strings"
)

// Drift is an installed file or CLI context that differs from what Install would write.
type Drift struct {
	Path string // the file, or the context's meta.json
	// Diff is a unified diff from the installed content (---) to the wanted one (+++). An
	// installed file that would be removed has only - lines.
	Diff string
}

// unifiedDiff returns a unified diff of two texts with three lines of context, or "" when
// they are equal. Files here are a few dozen lines, so a quadratic LCS is fine.
func unifiedDiff(fromName, toName, from, to string) string {
	if from == to {
		return ""
	}
	a, b := splitLines(from), splitLines(to)
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte // ' ', '-', '+'
		text string
		ai   int // line number in a (1-based) for ' ' and '-'
		bi   int // line number in b for ' ' and '+'
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i], i + 1, j + 1})
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', b[j], i, j + 1})
			j++
		default:
			lines = append(lines, line{'-', a[i], i + 1, j})
			i++
		}
	}
	const ctx = 3
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", fromName, toName)
	for k := 0; k < len(lines); {
		if lines[k].op == ' ' {
			k++
			continue
		}
		// A hunk: from ctx lines before this change to ctx lines after the last change that is
		// within 2*ctx of the previous one.
		start := max(0, k-ctx)
		end := k
		for end < len(lines) {
			if lines[end].op != ' ' {
				end++
				continue
			}
			run := end
			for run < len(lines) && lines[run].op == ' ' {
				run++
			}
			if run == len(lines) || run-end > 2*ctx {
				end = min(end+ctx, len(lines))
				break
			}
			end = run
		}
		var aStart, aLen, bStart, bLen int
		for _, l := range lines[start:end] {
			if l.op != '+' {
				if aLen == 0 {
					aStart = l.ai
				}
				aLen++
			}
			if l.op != '-' {
				if bLen == 0 {
					bStart = l.bi
				}
				bLen++
			}
		}
		if aLen == 0 {
			aStart = lines[start].ai
		}
		if bLen == 0 {
			bStart = lines[start].bi
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
		for _, l := range lines[start:end] {
			out.WriteByte(l.op)
			out.WriteString(l.text)
			out.WriteByte('\n')
		}
		k = end
	}
	return out.String()
}

func hunkRange(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
