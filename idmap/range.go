package idmap

import (
	"cmp"
	"fmt"
	"slices"
)

const (
	// MaxID is the largest id a user namespace can map: an extent must end
	// at or below it (start+count <= MaxID), or the kernel and newuidmap
	// refuse it.
	MaxID = 1<<32 - 1

	// MaxExtents is the number of lines the kernel accepts in uid_map and
	// gid_map, including the line that maps the user's own id.
	MaxExtents = 340

	// RecommendedCount is the smallest number of subordinate ids that lets
	// images use every id up to 65534 ("nobody"), the default count that
	// useradd assigns.
	RecommendedCount = 65536

	// defaultFreeMin and defaultFreeMax are useradd's defaults for
	// SUB_UID_MIN and SUB_UID_MAX (and the subgid equivalents).
	defaultFreeMin = 100000
	defaultFreeMax = 600100000
)

// Range is a run of Count consecutive ids starting at Start, as written in
// /etc/subuid (owner:start:count) or printed by getsubids.
type Range struct {
	Start, Count uint32
}

// End returns the first id after r. It is a uint64 so that ranges ending at
// 1<<32 do not wrap.
func (r Range) End() uint64 { return uint64(r.Start) + uint64(r.Count) }

// Valid reports whether newuidmap and the kernel accept r: it is not empty
// and it ends at or below [MaxID].
func (r Range) Valid() bool { return r.Count > 0 && r.End() <= MaxID }

// Contains reports whether id lies in r.
func (r Range) Contains(id uint32) bool {
	return id >= r.Start && uint64(id) < r.End()
}

// Overlaps reports whether r and o share at least one id.
func (r Range) Overlaps(o Range) bool {
	return r.Count > 0 && o.Count > 0 && uint64(r.Start) < o.End() && uint64(o.Start) < r.End()
}

// String formats r the way /etc/subuid writes it: "start:count".
func (r Range) String() string { return fmt.Sprintf("%d:%d", r.Start, r.Count) }

// span formats r the way usermod --add-subuids takes it: "first-last".
func (r Range) span() string { return fmt.Sprintf("%d-%d", r.Start, r.End()-1) }

// Normalize returns the union of rs as a sorted list of disjoint ranges:
// duplicates and overlaps are merged, adjacent ranges joined, and empty ranges
// dropped. rs is not modified.
func Normalize(rs []Range) []Range {
	var out []Range
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b Range) int { return cmp.Compare(a.Start, b.Start) })
	var cur struct{ start, end uint64 }
	have := false
	for _, r := range sorted {
		if r.Count == 0 {
			continue
		}
		if have && uint64(r.Start) <= cur.end {
			cur.end = max(cur.end, r.End())
			continue
		}
		if have {
			out = appendSpan(out, cur.start, cur.end)
		}
		cur.start, cur.end, have = uint64(r.Start), r.End(), true
	}
	if have {
		out = appendSpan(out, cur.start, cur.end)
	}
	return out
}

// appendSpan appends [start, end) as one or two ranges; two only when the
// span is 1<<32 ids long and does not fit one Count.
func appendSpan(out []Range, start, end uint64) []Range {
	for start < end {
		n := min(end-start, MaxID)
		out = append(out, Range{Start: uint32(start), Count: uint32(n)})
		start += n
	}
	return out
}

// Total returns the number of distinct ids in rs.
func Total(rs []Range) uint64 {
	var n uint64
	for _, r := range Normalize(rs) {
		n += uint64(r.Count)
	}
	return n
}

// FreeRange returns the lowest range of count ids that overlaps none of used,
// searching the way useradd does: from 100000 up to 600100000 (the defaults of
// SUB_UID_MIN and SUB_UID_MAX in login.defs), then up to [MaxID]. It reports
// false when no such range exists.
func FreeRange(count uint32, used []Range) (Range, bool) {
	if count == 0 {
		return Range{}, false
	}
	taken := Normalize(used)
	if r, ok := freeBetween(taken, defaultFreeMin, defaultFreeMax+1, count); ok {
		return r, true
	}
	return freeBetween(taken, defaultFreeMin, MaxID, count)
}

// freeBetween finds the lowest gap of count ids in [lo, hi) that misses the
// sorted, disjoint ranges in taken.
func freeBetween(taken []Range, lo, hi uint64, count uint32) (Range, bool) {
	next := lo
	for _, t := range taken {
		if t.End() <= next {
			continue
		}
		if uint64(t.Start) >= next+uint64(count) {
			break
		}
		next = t.End()
	}
	if next+uint64(count) > hi {
		return Range{}, false
	}
	return Range{Start: uint32(next), Count: count}, true
}
