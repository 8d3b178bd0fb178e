package idmap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
)

// kind tells subordinate uids from subordinate gids.
type kind int

const (
	uidKind kind = iota
	gidKind
)

var kinds = [...]kind{uidKind, gidKind}

type kindInfo struct {
	name string // "subuid"
	path string // "/etc/subuid"
	id   string // "uid"
	tool string // "newuidmap"
}

var kindInfos = [...]kindInfo{
	{"subuid", "/etc/subuid", "uid", "newuidmap"},
	{"subgid", "/etc/subgid", "gid", "newgidmap"},
}

func (k kind) info() kindInfo { return kindInfos[k] }

// flag is the getsubids flag for k, with a trailing blank.
func (k kind) flag() string {
	if k == gidKind {
		return "-g "
	}
	return ""
}

// Source is where subordinate ids come from: [Files], [Getsubids] or
// [Auto]. Pass the same choice to RootlessKit, so that the ranges
// predicted here are the ranges it maps.
type Source interface {
	// RootlessKit returns the value of RootlessKit's --subid-source flag
	// that reads the same source: "static", "dynamic" or "auto".
	RootlessKit() string

	lookup(ctx context.Context, u User) *Subids
}

// Files reads /etc/subuid and /etc/subgid like newuidmap and newgidmap do,
// and /etc/nsswitch.conf to tell whether those files are what they consult.
// It is RootlessKit's --subid-source=static.
type Files struct {
	// FS is a file system rooted at "/" that holds etc/subuid, etc/subgid
	// and etc/nsswitch.conf. nil means os.DirFS("/").
	FS fs.FS
}

// Getsubids runs shadow's getsubids (shadow-utils 4.9 and later), which
// asks whatever database the subid: line of /etc/nsswitch.conf names (files,
// sss, ...). Like RootlessKit, it queries by name and by uid, keeps the
// union in that order and drops exact duplicates. It is RootlessKit's
// --subid-source=dynamic.
//
// getsubids exits 1 when a user has no ranges, when the user is unknown and
// when the database cannot be read, so that status is reported as
// [ErrUnknown], never as [ErrNoRanges].
type Getsubids struct {
	// Path is the program to run. "" means $GETSUBIDS, else "getsubids"
	// looked up in $PATH: the program RootlessKit runs. Set $GETSUBIDS for
	// RootlessKit too when this is changed.
	Path string
}

// Auto tries Getsubids, and falls back to Files unless getsubids succeeds
// with both subuid and subgid ranges, exactly as RootlessKit's
// --subid-source=auto (its default) does. When getsubids answers and
// nsswitch.conf names the files, the files are read as well, for the checks
// that need the other users' ranges.
type Auto struct {
	Files     Files
	Getsubids Getsubids
}

// RootlessKit returns "static".
func (Files) RootlessKit() string { return "static" }

// RootlessKit returns "dynamic".
func (Getsubids) RootlessKit() string { return "dynamic" }

// RootlessKit returns "auto".
func (Auto) RootlessKit() string { return "auto" }

// Subids is the result of [Lookup]: a user's subordinate ids and what was
// learnt on the way.
type Subids struct {
	User   User
	Source string // which source answered: "files" or "getsubids"
	// NSS is the subid database named by /etc/nsswitch.conf. Only Files and
	// Auto read it; it is zero after Getsubids.
	NSS NSS
	// UIDs and GIDs are the subordinate uid and gid ranges in the order the
	// source gives them to RootlessKit, which maps them in that order (see
	// [NewMap]): file order for Files, without duplicates for Getsubids.
	// Lines that newuidmap ignores are left out (see Diags). Use
	// [Normalize] for the union.
	UIDs, GIDs []Range
	// Diags are the diagnostics that concern this user: problems on lines
	// that look meant for them, problems with whole files, and sources that
	// failed before another answered.
	Diags []Diag
	// UIDFile and GIDFile are the parsed files when they were read, with
	// every user's lines; nil otherwise.
	UIDFile, GIDFile *File

	findings []*diag.Finding // from the lookup itself: no ranges, unreadable, ...
	rk       [2]*rkView      // RootlessKit's own reading, for the files source
}

func (s *Subids) ranges(k kind) *[]Range {
	if k == gidKind {
		return &s.GIDs
	}
	return &s.UIDs
}

func (s *Subids) file(k kind) *File {
	if k == gidKind {
		return s.GIDFile
	}
	return s.UIDFile
}

// Lookup returns the subordinate uid and gid ranges of u according to src
// (nil means Auto{}).
//
// The error is nil when u has both, and otherwise joins one [*diag.Finding]
// per problem (use [diag.List], or errors.Is with an ID such as
// [IDSubuidMissing], with [ErrNoRanges] or with [ErrUnknown]):
// no ranges is [ErrNoRanges], with a free range to add in its remedy; a
// source that cannot tell is [ErrUnknown]; an unreadable file or a failed
// getsubids wraps its cause. Lookup also returns ctx's error if ctx ends.
// Even with an error the *Subids is non-nil, holds what was found, and can
// be passed to [Validate].
func Lookup(ctx context.Context, src Source, u User) (*Subids, error) {
	if src == nil {
		src = Auto{}
	}
	if err := ctx.Err(); err != nil {
		return &Subids{User: u}, err
	}
	s := src.lookup(ctx, u)
	if err := ctx.Err(); err != nil {
		return s, err
	}
	errs := make([]error, len(s.findings))
	for i, f := range s.findings {
		errs[i] = f
	}
	return s, diag.Join(errs...)
}

func (f Files) fsys() fs.FS {
	if f.FS == nil {
		return os.DirFS("/")
	}
	return f.FS
}

// readNSS reads etc/nsswitch.conf; a missing or unreadable one means files.
func readNSS(fsys fs.FS) NSS {
	data, err := fs.ReadFile(fsys, "etc/nsswitch.conf")
	if err != nil {
		nss := NSS{Module: "files"}
		if !errors.Is(err, fs.ErrNotExist) {
			nss.Diags = []Diag{{File: "/etc/nsswitch.conf", Severity: diag.Info, Code: "not-subid-module",
				Msg: "cannot read it (" + err.Error() + "): assuming the files"}}
		}
		return nss
	}
	return parseNSSwitch("/etc/nsswitch.conf", string(data))
}

// readFiles parses the subuid and subgid files of fsys into s. A missing file
// is an empty one, as for shadow.
func readFiles(fsys fs.FS, s *Subids) (missing [2]bool, failed [2]error) {
	for _, k := range kinds {
		ki := k.info()
		data, err := fs.ReadFile(fsys, ki.path[1:])
		if errors.Is(err, fs.ErrNotExist) {
			missing[k] = true
			err, data = nil, nil
		}
		if err != nil {
			failed[k] = err
			continue
		}
		f := parse(ki.path, string(data))
		if k == gidKind {
			s.GIDFile = f
		} else {
			s.UIDFile = f
		}
	}
	return missing, failed
}

func (f Files) lookup(ctx context.Context, u User) *Subids {
	fsys := f.fsys()
	s := &Subids{User: u, Source: "files", NSS: readNSS(fsys)}
	s.Diags = append(s.Diags, s.NSS.Diags...)
	missing, failed := readFiles(fsys, s)
	var none []kind
	for _, k := range kinds {
		ki := k.info()
		if err := failed[k]; err != nil {
			s.findings = append(s.findings, &diag.Finding{
				ID: k.ids().unreadable, Severity: diag.Error, Evidence: ki.path,
				Detail: fmt.Sprintf("cannot read %s: %v; RootlessKit's files source and getsubids cannot either", ki.path, err),
				Fix:    fmt.Sprintf("make %s readable by everyone: sudo chmod 644 %s", ki.path, ki.path),
				Err:    err,
			})
			continue
		}
		file := s.file(k)
		*s.ranges(k) = file.Ranges(u)
		s.Diags = append(s.Diags, file.userDiags(u)...)
		rk := file.rootlessKit(u)
		s.rk[k] = &rk
		if len(*s.ranges(k)) == 0 {
			none = append(none, k)
		}
	}
	if f := missingFinding(s, none, missing); f != nil {
		s.findings = append(s.findings, f)
	}
	return s
}

func (a Auto) lookup(ctx context.Context, u User) *Subids {
	g := a.Getsubids.lookup(ctx, u)
	if ctx.Err() != nil {
		return g
	}
	if len(g.findings) == 0 && len(g.UIDs) > 0 && len(g.GIDs) > 0 {
		fsys := a.Files.fsys()
		g.NSS = readNSS(fsys)
		g.Diags = append(g.Diags, g.NSS.Diags...)
		if g.NSS.Files() {
			readFiles(fsys, g)
		}
		return g
	}
	why := "returned no ranges"
	if len(g.findings) > 0 {
		why = g.findings[0].Detail
	} else if len(g.UIDs) > 0 {
		why = "returned no subgid ranges"
	} else if len(g.GIDs) > 0 {
		why = "returned no subuid ranges"
	}
	s := a.Files.lookup(ctx, u)
	s.Diags = append([]Diag{{Severity: diag.Info, Code: "getsubids-failed",
		Msg: why + "; falling back to /etc/subuid and /etc/subgid, as RootlessKit does"}}, s.Diags...)
	return s
}

// missingFinding reports the kinds in none, for which u has no ranges.
func missingFinding(s *Subids, none []kind, missing [2]bool) *diag.Finding {
	if len(none) == 0 {
		return nil
	}
	u := s.User
	id, names, paths := IDSubidsMissing, "subuid and subgid", "/etc/subuid or /etc/subgid"
	if len(none) == 1 {
		ki := none[0].info()
		id, names, paths = none[0].ids().missing, ki.name, ki.path
	}
	// The evidence is what was read: the files, or the getsubids queries.
	var ev []string
	for _, k := range none {
		switch s.Source {
		case "files":
			p := k.info().path
			if missing[k] {
				p += " (does not exist)"
			}
			ev = append(ev, p)
		case "getsubids":
			ev = append(ev, queries(u, k)...)
		}
	}
	var detail strings.Builder
	fmt.Fprintf(&detail, "no %s ranges for %s in %s", names, u, paths)
	for _, k := range none {
		ki := k.info()
		if missing[k] {
			fmt.Fprintf(&detail, "; %s does not exist", ki.path)
		}
		for _, d := range s.Diags {
			if d.File == ki.path && d.Severity == diag.Error {
				fmt.Fprintf(&detail, "; %s", d)
			}
		}
	}
	if g := groupLines(s, u); g != "" {
		fmt.Fprintf(&detail, "; %s", g)
	}
	return &diag.Finding{
		ID: id, Severity: diag.Error,
		Detail:   detail.String(),
		Evidence: strings.Join(ev, "; "),
		Fix:      addRangesFix(s, none, RecommendedCount),
		Err:      ErrNoRanges,
	}
}

// groupLines points out subgid lines keyed by u's primary group, which
// newgidmap ignores.
func groupLines(s *Subids, u User) string {
	if s.GIDFile == nil || u.Group == "" || u.Group == u.Name {
		return ""
	}
	for _, e := range s.GIDFile.Entries {
		if e.Verdict == Accepted && e.Owner == u.Group {
			return fmt.Sprintf("%s:%d is keyed by the group %q, but newgidmap looks up the user", s.GIDFile.Name, e.Line, u.Group)
		}
	}
	return ""
}

// addRangesFix is the command that gives u count more ids of each kind in
// ks, in a range no other line of either file uses.
func addRangesFix(s *Subids, ks []kind, count uint32) string {
	u := s.User
	if s.NSS.Module != "" && !s.NSS.Files() {
		return fmt.Sprintf("ask an administrator to assign %s at least %d subordinate uids and gids in the %q subid database named by /etc/nsswitch.conf", u.key(), count, s.NSS.Module)
	}
	var crlf []string
	for _, k := range ks {
		for _, d := range s.Diags {
			if d.Code == "trailing-cr" && d.File == k.info().path && !slices.Contains(crlf, d.File) {
				crlf = append(crlf, d.File)
			}
		}
	}
	if len(crlf) > 0 {
		return fmt.Sprintf("run: sudo sed -i 's/\\r$//' %s", strings.Join(crlf, " "))
	}
	used := append(s.UIDFile.all(), s.GIDFile.all()...)
	used = append(used, Range{u.UID, 1}, Range{u.GID, 1})
	used = append(used, s.UIDs...)
	used = append(used, s.GIDs...)
	r, ok := FreeRange(count, used)
	if !ok {
		return fmt.Sprintf("free a range of %d ids in /etc/subuid and /etc/subgid (none is left below %d), then assign it to %s", count, uint64(MaxID), u.key())
	}
	if u.Name == "" {
		var files []string
		for _, k := range ks {
			files = append(files, k.info().path)
		}
		return fmt.Sprintf("run: echo %d:%d:%d | sudo tee -a %s", u.UID, r.Start, r.Count, strings.Join(files, " "))
	}
	cmd := "run: sudo usermod"
	for _, k := range ks {
		cmd += " --add-sub" + k.info().id + "s " + r.span()
	}
	return cmd + " " + u.Name
}

// itoa formats an id.
func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
