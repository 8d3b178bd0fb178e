package idmap

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/rootlessd/rootlessd/diag"
)

var (
	// ErrNoRanges means the source answered, and the user has no
	// subordinate ids of some kind.
	ErrNoRanges = errors.New("idmap: no subordinate ids")
	// ErrUnknown means the source could not tell whether the user has
	// subordinate ids: getsubids exits 1 for "none", "unknown user" and
	// "cannot read the database" alike.
	ErrUnknown = errors.New("idmap: cannot tell the subordinate ids")
)

// Validate checks s, the result of [Lookup], for everything that makes
// newuidmap, newgidmap, the kernel or RootlessKit fail, or that breaks
// images, and returns the findings in a stable order (those of Lookup
// first). ns is the namespace the daemon will be started from (see
// [CurrentNamespace]); its zero value stands for the initial namespace.
func Validate(s *Subids, ns Namespace) []*diag.Finding {
	out := slices.Clone(s.findings)
	u := s.User
	if u.Name == "" {
		out = append(out, &diag.Finding{
			ID: IDUserUnnamed, Severity: diag.Error,
			Evidence: fmt.Sprintf("uid %d", u.UID),
			Detail:   fmt.Sprintf("uid %d has no passwd entry that this program can see: newuidmap stops with \"Cannot determine your user name\" and RootlessKit cannot resolve the user", u.UID),
			Fix:      fmt.Sprintf("give uid %d a passwd entry (getent passwd %d must find it); for LDAP or SSSD users, build the program with cgo", u.UID, u.UID),
		})
	}
	if s.Source == "files" && s.NSS.Module != "" && !s.NSS.Files() {
		out = append(out, &diag.Finding{
			ID: IDSubidNSS, Severity: diag.Error,
			Evidence: fmt.Sprintf("/etc/nsswitch.conf:%d: subid: %s", s.NSS.Line, s.NSS.Module),
			Detail:   fmt.Sprintf("/etc/nsswitch.conf:%d names the %q subid database, which newuidmap consults, but RootlessKit was asked to read /etc/subuid and /etc/subgid", s.NSS.Line, s.NSS.Module),
			Fix:      "use the Auto or Getsubids source (RootlessKit's --subid-source=auto or dynamic)",
		})
	}
	var reported [2]bool // missing, unknown or unreadable already said
	for _, f := range s.findings {
		for _, k := range kinds {
			switch ids := k.ids(); f.ID {
			case ids.missing, ids.unknown, ids.unreadable, IDSubidsMissing, IDGetsubidsMissing, IDGetsubidsFailed:
				reported[k] = true
			}
		}
	}
	var none []kind
	for _, k := range kinds {
		if len(*s.ranges(k)) == 0 && !reported[k] {
			none = append(none, k)
		}
	}
	if f := missingFinding(s, none, [2]bool{}); f != nil {
		out = append(out, f)
	}
	for _, k := range kinds {
		out = append(out, validateKind(s, ns, k)...)
	}
	return out
}

func validateKind(s *Subids, ns Namespace, k kind) []*diag.Finding {
	var out []*diag.Finding
	ki, ids := k.info(), k.ids()
	u := s.User
	self := u.UID
	if k == gidKind {
		self = u.GID
	}
	rs := *s.ranges(k)
	file := s.file(k)

	out = append(out, lineFindings(s, k)...)
	if s.Source == "files" && s.rk[k] != nil && file != nil {
		if f := rootlessKitFinding(s, k); f != nil {
			out = append(out, f)
		}
	}
	if len(rs) == 0 {
		return out
	}
	// lines[i] is where rs[i] comes from, when known.
	var lines []int
	if s.Source == "files" && file != nil {
		for _, e := range file.Entries {
			if e.Verdict == Accepted && e.Range.Count > 0 && ownerIs(e.Owner, u) {
				lines = append(lines, e.Line)
			}
		}
		if len(lines) != len(rs) {
			lines = nil
		}
	}
	where := func(i int) string {
		if lines == nil {
			return ""
		}
		return file.Name + ":" + strconv.Itoa(lines[i]) + ": "
	}
	// evidence shows rs[i]: its line, or the range as the source gave it.
	evidence := func(i int) string {
		if lines != nil {
			return lineEvidence(file, lines[i])
		}
		return s.rangeEvidence(k, rs[i])
	}

	if s.Source != "files" {
		for i, r := range rs {
			switch {
			case r.Count == 0:
				out = append(out, &diag.Finding{ID: ids.zeroCount, Severity: diag.Error, Evidence: evidence(i),
					Detail: fmt.Sprintf("%s returned the empty range %s: newuidmap refuses it", s.Source, r),
					Fix:    fmt.Sprintf("remove the range %s of %s from the subid database", r, u.key())})
			case r.End() > MaxID:
				out = append(out, &diag.Finding{ID: ids.overflow, Severity: diag.Error, Evidence: evidence(i),
					Detail: fmt.Sprintf("%srange %s ends past %d: %s refuses it", where(i), r, uint64(MaxID), ki.tool),
					Fix:    fmt.Sprintf("replace the range %s of %s with one below %d", r, u.key(), uint64(MaxID))})
			}
		}
	}

	usable := Normalize(withoutSelf(rs, self))
	if total := Total(usable); total < RecommendedCount {
		ev := make([]string, len(rs))
		for i := range rs {
			ev[i] = evidence(i)
		}
		out = append(out, &diag.Finding{ID: ids.tooSmall, Severity: diag.Warning, Evidence: joinEvidence(ev),
			Detail: fmt.Sprintf("%s has %d subordinate %ss, fewer than %d: images with files owned by ids up to 65534 (nobody) fail to unpack with \"lchown ... invalid argument\"", u, total, ki.id, RecommendedCount),
			Fix:    addRangesFix(s, []kind{k}, RecommendedCount)})
	}

	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			a, b := rs[i], rs[j]
			if !a.Overlaps(b) {
				continue
			}
			if a == b {
				fix := fmt.Sprintf("remove the repeated range %s of %s", b, u.key())
				if lines != nil {
					fix = fmt.Sprintf("run: sudo sed -i '%dd' %s", lines[j], file.Name)
				}
				out = append(out, &diag.Finding{ID: ids.duplicate, Severity: diag.Error, Evidence: evidence(i) + "; " + evidence(j),
					Detail: fmt.Sprintf("%s%s's range %s is listed twice%s: RootlessKit maps it twice and the kernel refuses the map (\"write to %s_map failed: Invalid argument\")", where(j), u.key(), b, at(lines, file, i), ki.id),
					Fix:    fix})
				continue
			}
			union := Normalize([]Range{a, b})
			fix := fmt.Sprintf("merge the ranges %s and %s of %s into %s", a, b, u.key(), union[0])
			if lines != nil {
				fix = fmt.Sprintf("replace lines %d and %d of %s with the one line %s:%s", lines[i], lines[j], file.Name, u.key(), union[0])
			}
			out = append(out, &diag.Finding{ID: ids.overlap, Severity: diag.Error, Evidence: evidence(i) + "; " + evidence(j),
				Detail: fmt.Sprintf("%s%s's ranges %s and %s overlap%s: RootlessKit maps both and the kernel refuses the map (\"write to %s_map failed: Invalid argument\")", where(j), u.key(), a, b, at(lines, file, i), ki.id),
				Fix:    fix})
		}
	}

	for i, r := range rs {
		if r.Contains(self) {
			out = append(out, &diag.Finding{ID: ids.containsSelf, Severity: diag.Warning, Evidence: evidence(i),
				Detail: fmt.Sprintf("%s%s's range %s holds its own %s %d, which is already mapped to 0: RootlessKit 3.3 cuts it out, older versions fail with \"write to %s_map failed: Invalid argument\"", where(i), u.key(), r, ki.id, self, ki.id),
				Fix:    fmt.Sprintf("run: sudo usermod --del-sub%ss %d-%d %s", ki.id, self, self, u.key())})
		}
	}

	if m, err := NewMap(self, rs); err != nil || len(m) > MaxExtents {
		n := len(withoutSelf(rs, self)) + 1
		fix := fmt.Sprintf("give %s fewer, larger ranges (at most %d)", u.key(), MaxExtents-1)
		if len(usable) < MaxExtents {
			fix = fmt.Sprintf("merge %s's adjacent ranges: they form only %d runs", u.key(), len(usable))
		}
		detail := fmt.Sprintf("the %s map would have %d lines; the kernel takes at most %d", ki.id, n, MaxExtents)
		if err != nil {
			detail = err.Error()
		}
		ev := fmt.Sprintf("%d ranges from %s", len(rs), s.Source)
		if file != nil && s.Source == "files" {
			ev = fmt.Sprintf("%d ranges in %s", len(rs), file.Name)
		}
		out = append(out, &diag.Finding{ID: ids.tooManyExtents, Severity: diag.Error, Detail: detail, Evidence: ev, Fix: fix})
	}

	if f := sharedFinding(s, k, rs); f != nil {
		out = append(out, f)
	}
	if ns.InUserNS {
		if f := unmappedFinding(s, k, ns, withoutSelf(rs, self)); f != nil {
			out = append(out, f)
		}
	}
	return out
}

// at says where the first of a pair comes from.
func at(lines []int, file *File, i int) string {
	if lines == nil {
		return ""
	}
	return fmt.Sprintf(" (also at %s:%d)", file.Name, lines[i])
}

// lineFindings turns the user's line diagnostics in k's file into findings,
// one per diagnostic code.
func lineFindings(s *Subids, k kind) []*diag.Finding {
	ki := k.info()
	var codes []string
	byCode := map[string][]Diag{}
	for _, d := range s.Diags {
		if d.File != ki.path || d.Severity < diag.Warning {
			continue
		}
		if _, ok := byCode[d.Code]; !ok {
			codes = append(codes, d.Code)
		}
		byCode[d.Code] = append(byCode[d.Code], d)
	}
	var out []*diag.Finding
	for _, code := range codes {
		ds := byCode[code]
		f := &diag.Finding{ID: k.lineID(code)}
		msgs := make([]string, len(ds))
		ev := make([]string, len(ds))
		for i, d := range ds {
			msgs[i] = d.String()
			if file := s.file(k); file != nil {
				ev[i] = lineEvidence(file, d.Line)
			} else {
				ev[i] = d.File + ":" + strconv.Itoa(d.Line)
			}
			f.Severity = max(f.Severity, d.Severity)
		}
		f.Detail = strings.Join(msgs, "; ")
		f.Evidence = joinEvidence(ev)
		f.Fix = lineFix(s, k, code, ds)
		out = append(out, f)
	}
	return out
}

// lineFix is the remedy for one kind of line problem.
func lineFix(s *Subids, k kind, code string, ds []Diag) string {
	path := k.info().path
	var del []string
	for _, d := range ds {
		del = append(del, strconv.Itoa(d.Line)+"d")
	}
	deleteCmd := fmt.Sprintf("run: sudo sed -i '%s' %s", strings.Join(del, ";"), path)
	switch code {
	case "trailing-cr":
		return fmt.Sprintf(`run: sudo sed -i 's/\r$//' %s`, path)
	case "trailing-space":
		return fmt.Sprintf("run: sudo sed -i 's/[[:blank:]]*$//' %s", path)
	case "no-final-newline":
		return fmt.Sprintf(`run: sudo sed -i -e '$a\' %s`, path)
	case "nul":
		return fmt.Sprintf(`run: sudo sed -i 's/\x0//g' %s`, path)
	case "zero-count":
		return deleteCmd
	case "octal":
		if file := s.file(k); file != nil {
			for i := range file.Entries {
				if e := &file.Entries[i]; e.Line == ds[0].Line {
					_, rest, _ := strings.Cut(file.text(e), ":")
					start, count, _ := strings.Cut(rest, ":")
					return fmt.Sprintf("rewrite line %d of %s without leading zeros, which make numbers octal: %s:%s:%s", e.Line, path, e.Owner, decimal(start), decimal(count))
				}
			}
		}
		return fmt.Sprintf("write the numbers on line %d of %s without leading zeros, which make them octal", ds[0].Line, path)
	case "overflow":
		return deleteCmd + ", then " + addRangesFix(s, []kind{k}, RecommendedCount)
	}
	// Rewrite the line as it was probably meant, when that is known.
	if file := s.file(k); file != nil {
		for _, e := range file.Entries {
			if e.Line == ds[0].Line && e.Range.Count > 0 {
				owner := strings.TrimSpace(e.Owner)
				if owner == "" {
					owner = s.User.key()
				}
				return fmt.Sprintf("rewrite line %d of %s as %s:%d:%d", e.Line, path, owner, e.Range.Start, e.Range.Count)
			}
		}
	}
	return "correct or delete the line; to delete it, " + deleteCmd
}

// rootlessKitFinding compares RootlessKit's reading of k's file with
// newuidmap's.
func rootlessKitFinding(s *Subids, k kind) *diag.Finding {
	ki := k.info()
	file := s.file(k)
	rk := s.rk[k]
	id := k.ids().rootlessKit
	if rk.errLine != 0 {
		return &diag.Finding{ID: id, Severity: diag.Error, Evidence: lineEvidence(file, rk.errLine),
			Detail: fmt.Sprintf("%s:%d: %s", file.Name, rk.errLine, rk.errMsg),
			Fix:    fmt.Sprintf("correct or delete line %d of %s (to delete it, run: sudo sed -i '%dd' %s), or let RootlessKit use getsubids", rk.errLine, file.Name, rk.errLine, file.Name)}
	}
	type item struct{ start, count int }
	shadow := map[int]item{}
	for _, e := range file.Entries {
		if e.Verdict == Accepted && e.Range.Count > 0 && ownerIs(e.Owner, s.User) {
			shadow[e.Line] = item{int(e.Range.Start), int(e.Range.Count)}
		}
	}
	var msgs []string
	sev := diag.Warning
	var bad []int
	for _, it := range rk.items {
		sh, ok := shadow[it.line]
		delete(shadow, it.line)
		if ok && sh == (item{it.start, it.count}) {
			continue
		}
		sev = diag.Error
		bad = append(bad, it.line)
		if ok {
			msgs = append(msgs, fmt.Sprintf("%s:%d: RootlessKit passes %d:%d, but %s grants %d:%d", file.Name, it.line, it.start, it.count, ki.tool, sh.start, sh.count))
		} else {
			msgs = append(msgs, fmt.Sprintf("%s:%d: RootlessKit passes %d:%d, which %s does not grant", file.Name, it.line, it.start, it.count, ki.tool))
		}
	}
	var lost []int
	for line := range shadow {
		lost = append(lost, line)
	}
	slices.Sort(lost)
	for _, line := range lost {
		sh := shadow[line]
		msgs = append(msgs, fmt.Sprintf("%s:%d: %s grants %d:%d, but RootlessKit does not see it", file.Name, line, ki.tool, sh.start, sh.count))
		bad = append(bad, line)
	}
	if len(msgs) == 0 {
		return nil
	}
	detail := strings.Join(msgs, "; ")
	ev := make([]string, len(bad))
	for i, line := range bad {
		ev[i] = lineEvidence(file, line)
	}
	if sev == diag.Error {
		detail += fmt.Sprintf(": %s will refuse RootlessKit's map", ki.tool)
	}
	return &diag.Finding{ID: id, Severity: sev, Detail: detail, Evidence: joinEvidence(ev),
		Fix: fmt.Sprintf("rewrite line %d of %s as plain owner:start:count, with %s's name or uid and decimal numbers", bad[0], file.Name, s.User.key())}
}

// sharedFinding reports the user's ranges that other users' lines hold too.
func sharedFinding(s *Subids, k kind, rs []Range) *diag.Finding {
	file := s.file(k)
	if file == nil {
		return nil
	}
	ki := k.info()
	u := s.User
	var msgs []string
	n := 0
	var conflict []Range
	var ev []string
	for _, e := range file.Entries {
		if e.Verdict != Accepted || e.Range.Count == 0 || ownerIs(e.Owner, u) {
			continue
		}
		for _, r := range rs {
			if r.Overlaps(e.Range) {
				n++
				conflict = append(conflict, r)
				if len(msgs) < 3 {
					msgs = append(msgs, fmt.Sprintf("%s's %s overlaps %s's %s at %s:%d", u.key(), r, e.Owner, e.Range, file.Name, e.Line))
				}
				ev = append(ev, lineEvidence(file, e.Line))
			}
		}
	}
	if n == 0 {
		return nil
	}
	detail := strings.Join(msgs, "; ")
	if n > len(msgs) {
		detail += fmt.Sprintf("; and %d more", n-len(msgs))
	}
	detail += ": the users can reach each other's files and processes through these ids"
	fix := addRangesFix(s, []kind{k}, RecommendedCount)
	if strings.HasPrefix(fix, "run: sudo usermod") {
		var del []string
		for _, r := range Normalize(conflict) {
			del = append(del, "--del-sub"+ki.id+"s "+r.span())
		}
		fix = strings.Replace(fix, "run: sudo usermod", "run: sudo usermod "+strings.Join(del, " "), 1)
	}
	return &diag.Finding{ID: k.ids().shared, Severity: diag.Warning, Detail: detail, Evidence: joinEvidence(slices.Compact(ev)), Fix: fix}
}

// unmappedFinding reports ranges that the current namespace does not map,
// or that straddle two of its extents (the kernel needs each new extent to
// lie inside one extent of the parent).
func unmappedFinding(s *Subids, k kind, ns Namespace, rs []Range) *diag.Finding {
	ki := k.info()
	m := ns.UID
	if k == gidKind {
		m = ns.GID
	}
	var msgs []string
	for _, r := range rs {
		inside := false
		for _, e := range m {
			if uint64(r.Start) >= uint64(e.Container) && r.End() <= uint64(e.Container)+uint64(e.Count) {
				inside = true
				break
			}
		}
		if !inside {
			msgs = append(msgs, r.String())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	var have, extents []string
	for _, e := range m {
		have = append(have, Range{e.Container, e.Count}.String())
		extents = append(extents, fmt.Sprintf("%d %d %d", e.Container, e.Host, e.Count))
	}
	ev := "/proc/self/" + ki.id + "_map is empty"
	if len(extents) > 0 {
		ev = "/proc/self/" + ki.id + "_map: " + strings.Join(extents, ", ")
	}
	mapped := "nothing: its " + ki.id + "_map is not written yet"
	if len(have) > 0 {
		mapped = strings.Join(have, ", ")
	}
	return &diag.Finding{ID: k.ids().unmapped, Severity: diag.Error, Evidence: ev,
		Detail: fmt.Sprintf("running in a user namespace that maps %s; %s's ranges %s do not each lie inside one of those, so the nested namespace cannot map them", mapped, s.User.key(), strings.Join(msgs, ", ")),
		Fix:    fmt.Sprintf("assign %s subordinate %ss that this namespace maps, each range within one line of /proc/self/%s_map", s.User.key(), ki.id, ki.id)}
}

// decimal drops the leading zeros of a number that shadow read as octal.
func decimal(s string) string {
	s = strings.TrimSpace(s)
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	return "0"
}

// maxEvidence is how many lines or ranges evidence shows before "and N more".
const maxEvidence = 3

// joinEvidence joins pieces of evidence, at most maxEvidence of them.
func joinEvidence(ev []string) string {
	if len(ev) > maxEvidence {
		return strings.Join(ev[:maxEvidence], "; ") + fmt.Sprintf("; and %d more", len(ev)-maxEvidence)
	}
	return strings.Join(ev, "; ")
}

// lineEvidence shows line n of f as "/etc/subuid:3: alice:100000:65536",
// the text quoted when it has blanks at either end or characters that do
// not print, and cut after 80 bytes.
func lineEvidence(f *File, n int) string {
	loc := f.Name + ":" + strconv.Itoa(n)
	i, ok := slices.BinarySearchFunc(f.Entries, n, func(e Entry, n int) int { return e.Line - n })
	if !ok {
		return loc
	}
	text := f.text(&f.Entries[i])
	cut := len(text) > 80
	if cut {
		text = text[:80]
	}
	if strings.TrimSpace(text) != text || strings.ContainsFunc(text, func(r rune) bool { return !unicode.IsPrint(r) }) {
		text = strconv.Quote(text)
	}
	if cut {
		text += "..."
	}
	return loc + ": " + text
}

// rangeEvidence shows a range of k that did not come from a file line:
// "alice:100000:0 from getsubids alice".
func (s *Subids) rangeEvidence(k kind, r Range) string {
	ev := s.User.key() + ":" + r.String()
	if s.Source == "getsubids" {
		ev += " from " + strings.Join(queries(s.User, k), " or ")
	}
	return ev
}
