//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// This file needs no integration tag: plain go test (and so CI) checks that the committed
// docs/reliability.md, which TestFaults writes from a real run, is well-formed. It does not
// compare figures, which change from run to run and machine to machine.

// reportPath is the committed report (the test may run as a test user in another directory).
func reportPath() string {
	return filepath.Join(testbed.PackageDir(), "..", "..", "docs", "reliability.md")
}

// reportColumns are the columns of the report's table, in order.
var reportColumns = []string{"family", "scenario", "stack", "result", "orphans", "data kept", "seen", "detect", "took"}

// reportStacks are the stacks every report covers.
var reportStacks = []string{"current", "distro"}

var (
	reportDate     = regexp.MustCompile(`(?m)^- date: \d{4}-\d\d-\d\d \d\d:\d\d UTC$`)
	reportMachine  = regexp.MustCompile(`(?m)^- machine: .*\d+ cores$`)
	reportStacksRe = regexp.MustCompile(`(?m)^- stacks: .*current \(dockerd [^)]+\).*$`)
	reportResult   = regexp.MustCompile(`(?m)^- result: (\d+) of (\d+) scenario runs passed, in \S+$`)
	reportDuration = regexp.MustCompile(`^\d+(\.\d+)?(ns|µs|ms|s|m|h)([0-9hms.]*)$`)
)

// checkReport says what is wrong with the text of a report, or nil.
func checkReport(text string) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !strings.HasPrefix(text, "# Reliability: the fault-injection suite\n") {
		bad("no title")
	}
	for name, re := range map[string]*regexp.Regexp{"date": reportDate, "machine": reportMachine, "stacks": reportStacksRe, "result": reportResult} {
		if !re.MatchString(text) {
			bad("no well-formed %q line", name)
		}
	}
	header := "| " + strings.Join(reportColumns, " | ") + " |"
	lines := strings.Split(text, "\n")
	at := slices.Index(lines, header)
	if at < 0 || at+1 >= len(lines) || strings.Count(lines[at+1], "|") != len(reportColumns)+1 {
		bad("no table with the columns %v", reportColumns)
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	stacks := map[string]bool{}
	rows, passed := 0, 0
	for i, line := range lines[at+2:] {
		if line == "" {
			break
		}
		cells := splitRow(line)
		if len(cells) != len(reportColumns) {
			bad("row %d has %d cells, want %d: %s", i+1, len(cells), len(reportColumns), line)
			continue
		}
		rows++
		stacks[cells[2]] = true
		switch cells[3] {
		case "pass":
			passed++
		case "**FAIL**":
		default:
			bad("row %d: result %q is neither pass nor **FAIL**", i+1, cells[3])
		}
		if n, err := strconv.Atoi(cells[4]); err != nil || n < 0 {
			bad("row %d: orphans %q is not a count", i+1, cells[4])
		}
		if k := cells[5]; !strings.HasPrefix(k, "yes") && !strings.HasPrefix(k, "no") && k != "n/a" {
			bad("row %d: data kept %q is not yes, no or n/a", i+1, k)
		}
		if d, _, _ := strings.Cut(cells[7], " "); d != "–" && !reportDuration.MatchString(d) {
			bad("row %d: detect %q is not a duration", i+1, cells[7])
		}
		if !reportDuration.MatchString(cells[8]) {
			bad("row %d: took %q is not a duration", i+1, cells[8])
		}
	}
	if rows == 0 {
		bad("the table has no rows")
	}
	for _, s := range reportStacks {
		if !stacks[s] {
			bad("no row for the %s stack", s)
		}
	}
	if m := reportResult.FindStringSubmatch(text); m != nil && (m[1] != strconv.Itoa(passed) || m[2] != strconv.Itoa(rows)) {
		bad("the result line says %s of %s, the table has %d of %d", m[1], m[2], passed, rows)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// splitRow splits a Markdown table row into its cells; \| is a bar inside a cell.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || strings.HasSuffix(line, `\|`) {
		return nil
	}
	var cells []string
	var cell strings.Builder
	for i := 1; i < len(line)-1; i++ {
		switch {
		case line[i] == '\\' && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// TestReliabilityReport: the committed report is well-formed (hack/reliability rewrites it).
func TestReliabilityReport(t *testing.T) {
	b, err := os.ReadFile(reportPath())
	if err != nil {
		t.Fatalf("%v: commit the report of a real run (sudo hack/reliability)", err)
	}
	if err := checkReport(string(b)); err != nil {
		t.Errorf("%s is malformed: %v", reportPath(), err)
	}
}

func TestCheckReport(t *testing.T) {
	good := "# Reliability: the fault-injection suite\n\nintro\n\n" +
		"- date: 2026-12-02 02:00 UTC\n- machine: Debian GNU/Linux 12 (bookworm), kernel 6.1.0-28-amd64, 2 cores\n" +
		"- stacks: current (dockerd 29.0.0), distro (dockerd 20.10.24); engine: RootlessKit embedded (the default)\n" +
		"- mode: short (CI); x\n- result: 1 of 2 scenario runs passed, in 4m2s\n\n" +
		"| family | scenario | stack | result | orphans | data kept | seen | detect | took |\n|---|---|---|---|---|---|---|---|---|\n" +
		"| kill | SIGKILL dockerd | distro | pass | 0 | yes | rootless: a \\| b | 1.2s (until Done) | 4.1s |\n" +
		"| kill | SIGKILL dockerd | current | **FAIL** | 2 | no (image lost) | – | – | 1m0.5s |\n"
	if err := checkReport(good); err != nil {
		t.Fatalf("a good report: %v", err)
	}
	for name, mangle := range map[string]func(string) string{
		"no date":        func(s string) string { return strings.Replace(s, "- date: 2026-12-02 02:00 UTC", "- date: today", 1) },
		"a missing cell": func(s string) string { return strings.Replace(s, "| 0 | yes |", "| yes |", 1) },
		"bad result":     func(s string) string { return strings.Replace(s, "| pass |", "| ok |", 1) },
		"bad count":      func(s string) string { return strings.Replace(s, "1 of 2", "2 of 2", 1) },
		"one stack":      func(s string) string { return strings.ReplaceAll(s, "| current |", "| distro |") },
		"bad orphans":    func(s string) string { return strings.Replace(s, "| 2 |", "| two |", 1) },
		"bad duration":   func(s string) string { return strings.Replace(s, "| 4.1s |", "| soon |", 1) },
		"no table":       func(s string) string { return strings.Replace(s, "| family |", "| kind |", 1) },
	} {
		if err := checkReport(mangle(good)); err == nil {
			t.Errorf("%s: checkReport accepted it", name)
		}
	}
}
