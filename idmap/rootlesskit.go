package idmap

import (
	"fmt"
	"strconv"
	"strings"
)

// This file predicts what RootlessKit v3.3.0 makes of the same inputs:
// its files source (pkg/parent/idtools, --subid-source=static) reads
// /etc/subuid differently from shadow, and its map builder
// (pkg/parent/parent.go) decides what newuidmap gets.

// rkMaxLine is bufio.Scanner's default token limit: RootlessKit's parser
// fails on a longer line.
const rkMaxLine = 64 * 1024

// rkRejects returns why RootlessKit's files parser fails the whole file on
// this line, or "" if it does not.
func rkRejects(line string) string {
	if len(line) >= rkMaxLine {
		return "line longer than 64 KiB"
	}
	t := strings.TrimSpace(line)
	if t == "" || t[0] == '#' {
		return ""
	}
	if n := strings.Count(t, ":") + 1; n != 3 {
		if n == 1 {
			return "1 field"
		}
		return fmt.Sprintf("%d fields", n)
	}
	return ""
}

// rkItem is one range RootlessKit's files source returns, with its line.
// Values are Go ints as strconv.Atoi gives them: they may be negative or
// above 1<<32.
type rkItem struct {
	line         int
	start, count int
}

// rkView is RootlessKit's reading of a file for one user.
type rkView struct {
	items   []rkItem
	errLine int    // non-zero: RootlessKit fails on this line
	errMsg  string // why
}

// rootlessKit reads f for u the way RootlessKit's idtools.parseSubidFile
// does: lines are trimmed, blank and '#' lines skipped, any other line
// without exactly three fields fails the file, and the owner must equal the
// decimal uid or the name; numbers go through strconv.Atoi.
func (f *File) rootlessKit(u User) rkView {
	if f.rkFatal != 0 {
		return rkView{errLine: f.rkFatal, errMsg: f.rkFatalMsg + ": RootlessKit's files source rejects the whole file"}
	}
	var v rkView
	uid := strconv.FormatUint(uint64(u.UID), 10)
	for i := range f.Entries {
		e := &f.Entries[i]
		if !e.odd && e.Verdict == Accepted {
			if e.Owner == uid || (u.Name != "" && e.Owner == u.Name) {
				v.items = append(v.items, rkItem{e.Line, int(e.Range.Start), int(e.Range.Count)})
			}
			continue
		}
		t := strings.TrimSpace(f.text(e))
		if t == "" || t[0] == '#' {
			continue
		}
		parts := strings.Split(t, ":")
		if len(parts) != 3 || !(parts[0] == uid || (u.Name != "" && parts[0] == u.Name)) {
			continue
		}
		start, err1 := strconv.Atoi(parts[1])
		count, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil {
			bad := parts[1]
			if err1 == nil {
				bad = parts[2]
			}
			return rkView{errLine: e.Line, errMsg: fmt.Sprintf("RootlessKit's files source cannot parse %q and fails", bad)}
		}
		v.items = append(v.items, rkItem{e.Line, start, count})
	}
	return v
}

// withoutSelf is RootlessKit's withoutSelfID: it removes id from the
// ranges, splitting the range that holds it, and keeps the order.
func withoutSelf(rs []Range, id uint32) []Range {
	out := make([]Range, 0, len(rs)+1)
	for _, r := range rs {
		if !r.Contains(id) {
			out = append(out, r)
			continue
		}
		if head := id - r.Start; head > 0 {
			out = append(out, Range{Start: r.Start, Count: head})
		}
		// With id = MaxID the tail would start at 1<<32, which no valid range
		// reaches; NewMap refuses such input before calling this.
		if tail := r.End() - (uint64(id) + 1); tail > 0 && id < MaxID {
			out = append(out, Range{Start: id + 1, Count: uint32(tail)})
		}
	}
	return out
}

// dedupe is RootlessKit's withoutDuplicates (pkg/parent/dynidtools): it
// drops exact repeats and keeps the first of each.
func dedupe(rs []Range) []Range {
	out := rs[:0:0]
	seen := make(map[Range]bool, len(rs))
	for _, r := range rs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
