package idmap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/rootlessd/rootlessd/diag"
)

// ParseGetsubids reads the output of shadow's getsubids ("0: alice 100000
// 65536" per range; the owner column echoes the query) the way RootlessKit
// does: blank and '#' lines are skipped, the second and third words after
// the colon are start and count. Extra columns give a warning [Diag];
// missing columns and numbers that are not decimal ids are an error that
// says name:line. name is used in both, for example "getsubids -g alice".
func ParseGetsubids(name string, r io.Reader) ([]Range, []Diag, error) {
	var (
		rs    []Range
		diags []Diag
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		idx, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, diags, fmt.Errorf("idmap: %s:%d: no colon in %q", name, n, line)
		}
		f := strings.Fields(rest)
		if len(f) < 3 {
			return nil, diags, fmt.Errorf("idmap: %s:%d: %d columns after %q, want 3 (owner start count)", name, n, len(f), idx+":")
		}
		if len(f) > 3 || strings.Contains(rest, ":") {
			diags = append(diags, Diag{File: name, Line: n, Severity: diag.Warning, Code: "getsubids-columns",
				Msg: fmt.Sprintf("unexpected columns in %q: reading start %s and count %s", line, f[1], f[2])})
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, diags, fmt.Errorf("idmap: %s:%d: start %q and count %q must be ids", name, n, f[1], f[2])
		}
		rs = append(rs, Range{Start: uint32(start), Count: uint32(count)})
	}
	if err := sc.Err(); err != nil {
		return nil, diags, fmt.Errorf("idmap: read %s: %w", name, err)
	}
	return rs, diags, nil
}

// getsubidsError is a getsubids run that did not succeed.
type getsubidsError struct {
	query  string // "getsubids -g alice"
	code   int    // exit status, or -1 when it did not exit normally
	stderr string
	err    error
}

func (e *getsubidsError) Error() string {
	msg := e.query + ": " + e.err.Error()
	if e.stderr != "" {
		msg += ": " + e.stderr
	}
	return msg
}

func (e *getsubidsError) Unwrap() error { return e.err }

// runGetsubids runs one query and parses its output.
func runGetsubids(ctx context.Context, exe string, k kind, who string) ([]Range, []Diag, error) {
	args := []string{who}
	if k == gidKind {
		args = []string{"-g", who}
	}
	query := "getsubids " + strings.Join(args, " ")
	cmd := exec.CommandContext(ctx, exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		ge := &getsubidsError{query: query, code: -1, stderr: firstLine(stderr.String()), err: err}
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			ge.code = ee.ExitCode()
		}
		return nil, nil, ge
	}
	return ParseGetsubids(query, &stdout)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// path resolves the program as RootlessKit does. name is the program
// looked up: g.Path, $GETSUBIDS or "getsubids".
func (g Getsubids) path() (exe, name string, err error) {
	name = g.Path
	if name == "" {
		name = os.Getenv("GETSUBIDS")
	}
	if name == "" {
		name = "getsubids"
	}
	exe, err = exec.LookPath(name)
	return exe, name, err
}

// keys are what getsubids is asked about u: its name, then its uid, as
// RootlessKit asks.
func (u User) keys() []string {
	uid := strconv.FormatUint(uint64(u.UID), 10)
	if u.Name != "" {
		return []string{u.Name, uid}
	}
	return []string{uid}
}

// queries are the getsubids command lines for k's ranges of u.
func queries(u User, k kind) []string {
	var out []string
	for _, who := range u.keys() {
		out = append(out, "getsubids "+k.flag()+who)
	}
	return out
}

func (g Getsubids) lookup(ctx context.Context, u User) *Subids {
	s := &Subids{User: u, Source: "getsubids"}
	exe, name, err := g.path()
	if err != nil {
		s.findings = append(s.findings, &diag.Finding{
			ID: IDGetsubidsMissing, Severity: diag.Error,
			Evidence: name,
			Detail:   fmt.Sprintf("cannot run getsubids: %v", err),
			Fix:      "install getsubids from shadow-utils 4.9 or later (Debian and Ubuntu: uidmap; Fedora: shadow-utils-subid), or read /etc/subuid and /etc/subgid directly",
			Err:      err,
		})
		return s
	}
	keys := u.keys()
	// The queries (name and uid, for uids and gids) are independent: run them at once, and
	// read the answers in RootlessKit's order.
	type answer struct {
		rs    []Range
		diags []Diag
		err   error
	}
	answers := make([][]answer, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		answers[i] = make([]answer, len(keys))
		for j, q := range keys {
			wg.Go(func() {
				rs, diags, err := runGetsubids(ctx, exe, k, q)
				answers[i][j] = answer{rs, diags, err}
			})
		}
	}
	wg.Wait()
	for i, k := range kinds {
		var (
			all  []Range
			errs []error
		)
		for _, a := range answers[i] {
			s.Diags = append(s.Diags, a.diags...)
			if a.err != nil {
				errs = append(errs, a.err)
				continue
			}
			all = append(all, a.rs...)
		}
		if ctx.Err() != nil {
			return s
		}
		if len(errs) == len(keys) {
			s.findings = append(s.findings, getsubidsFinding(u, k, errs))
			continue
		}
		for _, err := range errs {
			s.Diags = append(s.Diags, Diag{Severity: diag.Info, Code: "getsubids-failed",
				Msg: err.Error() + " (RootlessKit ignores this when another query succeeds)"})
		}
		*s.ranges(k) = dedupe(all)
	}
	return s
}

// getsubidsFinding explains why no query for kind k succeeded.
func getsubidsFinding(u User, k kind, errs []error) *diag.Finding {
	msgs := make([]string, len(errs))
	ambiguous := true
	for i, err := range errs {
		msgs[i] = strings.TrimPrefix(err.Error(), "idmap: ")
		ge, ok := errors.AsType[*getsubidsError](err)
		if !ok || ge.code != 1 {
			ambiguous = false
		}
	}
	evidence := strings.Join(queries(u, k), "; ")
	if ambiguous {
		return &diag.Finding{
			ID: k.ids().unknown, Severity: diag.Error, Evidence: evidence,
			Detail: strings.Join(msgs, "; ") + fmt.Sprintf(": getsubids exits 1 alike when %s has no %s ranges, is unknown to the subid database, or the database cannot be read", u, k.info().name),
			Fix:    fmt.Sprintf("run getsubids %s%s to see the error; if %s has no ranges, ask an administrator to assign at least %d subordinate %ss", k.flag(), u.key(), u.key(), RecommendedCount, k.info().id),
			Err:    ErrUnknown,
		}
	}
	return &diag.Finding{
		ID: IDGetsubidsFailed, Severity: diag.Error, Evidence: evidence,
		Detail: strings.Join(msgs, "; "),
		Fix:    fmt.Sprintf("run getsubids %s%s and fix what it reports, or read /etc/subuid and /etc/subgid directly", k.flag(), u.key()),
		Err:    errs[0],
	}
}
