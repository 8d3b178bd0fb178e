package idmap

import (
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
)

// Verdict is shadow-utils' reading of one line of /etc/subuid or /etc/subgid.
type Verdict uint8

const (
	// Accepted lines are used by newuidmap and newgidmap (those with count 0
	// never match anything).
	Accepted Verdict = iota + 1
	// Ignored lines are skipped by newuidmap and newgidmap without a word.
	Ignored
	// Comment lines hold an entry after '#'. shadow has no comment syntax: it
	// reads "#alice" as an owner that never matches.
	Comment
)

func (v Verdict) String() string {
	switch v {
	case Accepted:
		return "accepted"
	case Ignored:
		return "ignored"
	case Comment:
		return "comment"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Diag is a diagnostic about one line of a file (or one line of getsubids
// output). It prints as "/etc/subuid:7: trailing CR: newuidmap ignores this
// line".
type Diag struct {
	File     string        // name as shown to people, for example "/etc/subuid"
	Line     int           // 1-based line number
	Severity diag.Severity // how bad it is
	// Code is stable and names the problem: "trailing-cr", "trailing-space",
	// "fields", "empty-field", "bad-number", "out-of-range", "octal", "hex",
	// "sign", "leading-space", "owner-space", "zero-count", "overflow", "nis",
	// "too-long", "nul", "no-final-newline", "commented-entry",
	// "not-subid-module", "getsubids-columns", "getsubids-failed".
	Code string
	Msg  string // what is wrong and what shadow or RootlessKit does about it

	owner    string // the owner the line seems meant for, to attribute it
	fileWide bool   // concerns every user of the file
}

func (d Diag) String() string {
	if d.File == "" {
		return d.Msg
	}
	if d.Line == 0 {
		return d.File + ": " + d.Msg
	}
	return d.File + ":" + strconv.Itoa(d.Line) + ": " + d.Msg
}

// Entry is one line of a subordinate id file that is not blank or a plain
// comment.
type Entry struct {
	Line  int    // 1-based line number
	Owner string // first field, verbatim: a login name or a uid
	// Range is shadow's reading of the line when Verdict is Accepted or
	// Comment. For Ignored lines it is the best guess of what the line meant
	// (for example with the trailing CR removed), or zero.
	Range   Range
	Verdict Verdict

	off, len uint32 // the whole line is File.data[off:off+len]
	odd      bool   // has diagnostics: readers other than shadow may disagree
}

// File is a parsed /etc/subuid or /etc/subgid. Parsing never fails on
// content: every line gets shadow's verdict, and the lines that shadow would
// silently ignore or misread get a [Diag].
type File struct {
	Name    string  // as shown in diagnostics, for example "/etc/subuid"
	Entries []Entry // in file order
	Diags   []Diag  // in line order

	data       string // the file's content
	rkFatal    int    // first line on which RootlessKit rejects the whole file
	rkFatalMsg string // why
}

// Parse reads a subordinate id file in the format of subuid(5). name is used
// in diagnostics only. The error is non-nil only when reading r fails.
func Parse(name string, r io.Reader) (*File, error) {
	var b strings.Builder
	if l, ok := r.(interface{ Len() int }); ok { // strings.Reader, bytes.Reader, bytes.Buffer
		b.Grow(l.Len())
	} else if st, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok { // *os.File, fs.File
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
			b.Grow(int(fi.Size()))
		}
	}
	if _, err := io.Copy(&b, r); err != nil {
		return nil, fmt.Errorf("idmap: read %s: %w", name, err)
	}
	return parse(name, b.String()), nil
}

func parse(name, data string) *File {
	f := &File{Name: name, data: data}
	f.Entries = make([]Entry, 0, strings.Count(data, "\n")+1)
	n := 0
	for i := 0; i < len(data); {
		n++
		if k := len(f.Entries); k < cap(f.Entries) {
			f.Entries = f.Entries[:k+1] // fill in place: no 48-byte copy per line
			if next, ok := scanFast(&f.Entries[k], data, i); ok {
				f.Entries[k].Line = n
				i = next
				continue
			}
			f.Entries = f.Entries[:k]
		}
		i0 := i
		line := data[i:]
		j := strings.IndexByte(line, '\n')
		if j >= 0 {
			line = line[:j]
			i += j + 1
		} else {
			i = len(data)
		}
		f.parseLine(n, line, i0)
		if j < 0 {
			f.Diags = append(f.Diags, Diag{File: name, Line: n, Severity: diag.Warning, Code: "no-final-newline",
				Msg:      "no newline at end of file: shadow 4.19 and later refuse the whole file (\"Non-text file\")",
				fileWide: true})
		}
	}
	return f
}

// scanFast reads the common, clean line at data[i:] in one pass:
// owner:start:count with plain decimal numbers, ended by a newline, which
// shadow and RootlessKit read alike. It reports false for anything else,
// which parseLine then examines closely.
func scanFast(e *Entry, data string, i int) (next int, ok bool) {
	p := i
	if c := data[p]; c == '+' || c == '-' || c == '#' || c == ':' || isCSpace(c) || c >= 0x80 {
		return 0, false
	}
	for p < len(data) && data[p] != ':' {
		if c := data[p]; c == '\n' || c == 0 {
			return 0, false
		}
		p++
	}
	if p == len(data) {
		return 0, false
	}
	if c := data[p-1]; isCSpace(c) || c >= 0x80 {
		return 0, false
	}
	ownerEnd := p
	start, p, ok := scanDecimal(data, p+1)
	if !ok || p == len(data) || data[p] != ':' {
		return 0, false
	}
	count, p, ok := scanDecimal(data, p+1)
	if !ok || p == len(data) || data[p] != '\n' || count == 0 || start+count > MaxID || p-i >= 1024 {
		return 0, false
	}
	*e = Entry{Owner: data[i:ownerEnd], Range: Range{uint32(start), uint32(count)}, Verdict: Accepted, off: uint32(i), len: uint32(p - i)}
	return p + 1, true
}

// scanDecimal reads 1 to 10 decimal digits, without a superfluous leading
// zero, at data[p:].
func scanDecimal(data string, p int) (v uint64, end int, ok bool) {
	first := p
	for p < len(data) && p-first <= 10 {
		c := data[p]
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + uint64(c-'0')
		p++
	}
	n := p - first
	return v, p, n > 0 && n <= 10 && (n == 1 || data[first] != '0')
}

// text returns the whole line of e.
func (f *File) text(e *Entry) string { return f.data[e.off : e.off+e.len] }

func (f *File) parseLine(n int, line string, off int) {
	if f.rkFatal == 0 {
		if msg := rkRejects(line); msg != "" {
			f.rkFatal, f.rkFatalMsg = n, msg
		}
	}
	t := strings.TrimSpace(line)
	if t == "" {
		return // blank: shadow ignores it, RootlessKit skips it
	}
	if t[0] == '#' {
		inner := strings.TrimSpace(t[1:])
		if res := shadowLine(inner); res.verdict == Accepted && res.n == 0 {
			f.Entries = append(f.Entries, Entry{Line: n, Owner: res.owner, Range: res.r, Verdict: Comment, off: uint32(off), len: uint32(len(line)), odd: true})
			f.Diags = append(f.Diags, Diag{File: f.Name, Line: n, Severity: diag.Info, Code: "commented-entry",
				Msg: "commented-out entry: newuidmap and newgidmap ignore it", owner: res.owner})
		}
		return
	}
	res := shadowLine(line)
	f.Entries = append(f.Entries, Entry{Line: n, Owner: res.owner, Range: res.r, Verdict: res.verdict, off: uint32(off), len: uint32(len(line)), odd: true})
	who := looseOwner(line)
	for _, is := range res.issues[:res.n] {
		f.Diags = append(f.Diags, Diag{File: f.Name, Line: n, Severity: is.sev, Code: is.code, Msg: is.msg,
			owner: who, fileWide: is.code == "nul"})
	}
}

// looseOwner guesses whom a line is meant for, to show its diagnostics to
// that user: the first field without surrounding blanks or markers.
func looseOwner(line string) string {
	if i := strings.IndexByte(line, ':'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	line = strings.TrimLeft(line, "#+-")
	return strings.TrimSpace(line)
}

type issue struct {
	sev  diag.Severity
	code string
	msg  string
}

type lineResult struct {
	verdict Verdict
	owner   string
	r       Range
	issues  [4]issue
	n       int
}

func (res *lineResult) add(sev diag.Severity, code, msg string) {
	if res.n < len(res.issues) {
		res.issues[res.n] = issue{sev, code, msg}
		res.n++
	}
}

// shadowLine reads one line as shadow's subordinate_parse (lib/subordinateio.c)
// and commonio_open (lib/commonio.c) do, and explains any surprise.
func shadowLine(line string) (res lineResult) {
	res.verdict = Ignored
	if line == "" {
		res.add(diag.Error, "fields", "empty line")
		return res
	}
	if strings.IndexByte(line, 0) >= 0 {
		res.add(diag.Error, "nul", "NUL byte: newuidmap ignores this line, and shadow 4.19 and later refuse the whole file")
		return res
	}
	if line[0] == '+' || line[0] == '-' {
		res.add(diag.Warning, "nis", fmt.Sprintf("starts with %q: shadow reads it as a NIS entry and ignores it", line[:1]))
		return res
	}
	owner, rest, _ := strings.Cut(line, ":")
	start, count, ok := strings.Cut(rest, ":")
	res.owner = owner
	nf := strings.Count(line, ":") + 1
	if nf >= 3 {
		if r, ok := guessRange(start, strings.SplitN(count, ":", 2)[0]); ok {
			res.r = r
		}
	}
	if len(line) >= 1024 {
		res.add(diag.Error, "too-long", fmt.Sprintf("line is %d bytes long: newuidmap ignores lines of 1024 bytes or more", len(line)))
		return res
	}
	if !ok || nf != 3 {
		msg := fmt.Sprintf("%d fields, want 3 (owner:start:count): newuidmap ignores this line", nf)
		if nf == 1 {
			msg = "1 field, want 3 (owner:start:count): newuidmap ignores this line"
		}
		if nf == 4 && strings.HasSuffix(line, ":") {
			msg = "trailing colon: newuidmap ignores this line"
		}
		res.add(diag.Error, "fields", msg)
		return res
	}
	for _, fld := range [...]struct{ name, v string }{{"owner", owner}, {"start", start}, {"count", count}} {
		if fld.v == "" {
			res.add(diag.Error, "empty-field", "empty "+fld.name+" field: newuidmap ignores this line")
			return res
		}
	}
	if strings.TrimSpace(owner) != owner {
		res.add(diag.Warning, "owner-space", fmt.Sprintf("blank around owner %q: newuidmap compares user names exactly", owner))
	}
	sv, sflags, serr, sjunk := parseNum(start, 0, MaxID)
	if serr != numOK {
		numIssue(&res, "start", start, serr, sjunk, false)
		return res
	}
	cv, cflags, cerr, cjunk := parseNum(count, 0, min(MaxID+1-sv, MaxID))
	if cerr != numOK {
		numIssue(&res, "count", count, cerr, cjunk, true)
		return res
	}
	res.verdict = Accepted
	res.r = Range{Start: uint32(sv), Count: uint32(cv)}
	numNotes(&res, "start", start, sv, sflags)
	numNotes(&res, "count", count, cv, cflags)
	switch {
	case cv == 0:
		res.add(diag.Error, "zero-count", "count 0: newuidmap never matches this range, and newuidmap refuses it if RootlessKit passes it on")
	case sv+cv > MaxID:
		res.add(diag.Error, "overflow", fmt.Sprintf("range %d:%d ends past %d: newuidmap and the kernel refuse to map it", sv, cv, uint64(MaxID)))
	}
	return res
}

// guessRange reads start and count leniently (blanks and CRs trimmed), to
// remember what an ignored line probably meant.
func guessRange(start, count string) (Range, bool) {
	sv, _, e1, _ := parseNum(strings.TrimSpace(start), 0, MaxID)
	cv, _, e2, _ := parseNum(strings.TrimSpace(count), 0, MaxID)
	if e1 != numOK || e2 != numOK || cv == 0 {
		return Range{}, false
	}
	return Range{Start: uint32(sv), Count: uint32(min(cv, MaxID+1-sv, MaxID))}, true
}

func numIssue(res *lineResult, field, s string, e numErr, junk string, last bool) {
	switch e {
	case numTrailing:
		switch {
		case last && junk == "\r":
			res.add(diag.Error, "trailing-cr", "trailing CR (DOS line ending): newuidmap ignores this line")
		case strings.TrimSpace(junk) == "":
			res.add(diag.Error, "trailing-space", fmt.Sprintf("trailing blank after %s %q: newuidmap ignores this line", field, strings.TrimRight(s, " \t\r\v\f")))
		default:
			res.add(diag.Error, "bad-number", fmt.Sprintf("%s %q is not a number (stray %q): newuidmap ignores this line", field, s, junk))
		}
	case numNoDigits:
		res.add(diag.Error, "bad-number", fmt.Sprintf("%s %q is not a number: newuidmap ignores this line", field, s))
	case numNegative:
		res.add(diag.Error, "bad-number", fmt.Sprintf("%s %q is negative: newuidmap ignores this line", field, s))
	case numBinary:
		res.add(diag.Error, "bad-number", fmt.Sprintf("%s %q has a 0b prefix: only shadow built with glibc 2.38 or later reads it; others ignore this line", field, s))
	case numRange:
		res.add(diag.Error, "out-of-range", fmt.Sprintf("%s %q is out of range: newuidmap ignores this line", field, s))
	}
}

func numNotes(res *lineResult, field, s string, v uint64, fl numFlag) {
	if fl&numSpace != 0 {
		res.add(diag.Warning, "leading-space", fmt.Sprintf("blank before %s %q: newuidmap accepts it, RootlessKit's files source cannot parse it", field, strings.TrimSpace(s)))
	}
	if fl&numSign != 0 {
		res.add(diag.Warning, "sign", fmt.Sprintf("sign in %s %q: newuidmap reads %d", field, strings.TrimSpace(s), v))
	}
	if fl&numHex != 0 {
		res.add(diag.Warning, "hex", fmt.Sprintf("hexadecimal %s %q (%d): newuidmap accepts it, RootlessKit's files source cannot parse it", field, strings.TrimSpace(s), v))
	}
	if fl&numOctal != 0 {
		res.add(diag.Error, "octal", fmt.Sprintf("leading zero: newuidmap reads %s %q as octal %d", field, strings.TrimSpace(s), v))
	}
}

// Ranges returns the ranges newuidmap and newgidmap grant u from this file,
// in file order: accepted lines whose owner is u's name, or u's uid in
// decimal, with a non-zero count. Duplicates are kept, as RootlessKit keeps
// them.
func (f *File) Ranges(u User) []Range {
	var out []Range
	for i := range f.Entries {
		e := &f.Entries[i]
		if e.Verdict == Accepted && e.Range.Count > 0 && ownerIs(e.Owner, u) {
			out = append(out, e.Range)
		}
	}
	return out
}

// ownerIs reports whether shadow's find_range matches owner to u: the name
// exactly, or an owner that reads as u's uid (base 10, as get_uid does).
func ownerIs(owner string, u User) bool {
	if u.Name != "" && owner == u.Name {
		return true
	}
	if owner == "" {
		return false
	}
	if c := owner[0]; c >= '1' && c <= '9' {
		if len(owner) > 10 {
			return false
		}
		v, ok := fastDecimal(owner)
		if ok {
			return v == uint64(u.UID)
		}
	} else if c != '0' && c != '+' && c != '-' && !isCSpace(c) {
		return false
	}
	v, _, e, _ := parseNum(owner, 10, MaxID)
	return e == numOK && v == uint64(u.UID)
}

// userDiags returns the diagnostics of f that concern u: those on lines that
// look meant for u, and those about the whole file.
func (f *File) userDiags(u User) []Diag {
	var out []Diag
	uid := strconv.FormatUint(uint64(u.UID), 10)
	for _, d := range f.Diags {
		if d.fileWide || d.owner == uid || (u.Name != "" && d.owner == u.Name) {
			out = append(out, d)
		}
	}
	return out
}

// all returns every range in f, of any owner, including the best guesses of
// ignored lines: ids to keep clear of when suggesting a free range.
func (f *File) all() []Range {
	if f == nil {
		return nil
	}
	out := make([]Range, 0, len(f.Entries))
	for _, e := range f.Entries {
		if e.Range.Count > 0 {
			out = append(out, e.Range)
		}
	}
	return out
}
