// Package reliability is the format of docs/reliability.md, the report that the fault-injection
// suite (internal/integration, TestFaults) writes from a real run: its columns, and Check, which
// CI runs on the committed report so that a hand edit or a half-written run does not pass for
// a report.
//
//	if err := reliability.Check(string(text)); err != nil {
//		// not a report the suite wrote
//	}
package reliability

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Title is the report's first line.
const Title = "# Reliability: the fault-injection suite"

// Columns are the columns of the report's table, in order.
var Columns = []string{"family", "scenario", "stack", "result", "orphans", "data kept", "seen", "detect", "took"}

// Stacks are the stacks every report covers.
var Stacks = []string{"current", "distro"}

var (
	reportDate     = regexp.MustCompile(`(?m)^- date: \d{4}-\d\d-\d\d \d\d:\d\d UTC$`)
	reportMachine  = regexp.MustCompile(`(?m)^- machine: .*\d+ cores$`)
	reportStacks   = regexp.MustCompile(`(?m)^- stacks: .*current \(dockerd [^)]+\).*$`)
	reportResult   = regexp.MustCompile(`(?m)^- result: (\d+) of (\d+) scenario runs passed, in \S+$`)
	reportDuration = regexp.MustCompile(`^\d+(\.\d+)?(ns|µs|ms|s|m|h)([0-9hms.]*)$`)
)

// Check says what is wrong with the text of a report, or nil: the title, the date, machine,
// stacks and result lines, and a table with Columns whose cells are what they say (a count of
// orphans, durations, pass or **FAIL**), with rows for every stack in Stacks and as many passes
// as the result line says. It does not judge the figures.
func Check(text string) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !strings.HasPrefix(text, Title+"\n") {
		bad("no title")
	}
	for name, re := range map[string]*regexp.Regexp{"date": reportDate, "machine": reportMachine, "stacks": reportStacks, "result": reportResult} {
		if !re.MatchString(text) {
			bad("no well-formed %q line", name)
		}
	}
	header := "| " + strings.Join(Columns, " | ") + " |"
	lines := strings.Split(text, "\n")
	at := slices.Index(lines, header)
	if at < 0 || at+1 >= len(lines) || strings.Count(lines[at+1], "|") != len(Columns)+1 {
		bad("no table with the columns %v", Columns)
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	stacks := map[string]bool{}
	rows, passed := 0, 0
	for i, line := range lines[at+2:] {
		if line == "" {
			break
		}
		cells := splitRow(line)
		if len(cells) != len(Columns) {
			bad("row %d has %d cells, want %d: %s", i+1, len(cells), len(Columns), line)
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
	for _, s := range Stacks {
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
