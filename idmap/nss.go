package idmap

import (
	"fmt"
	"io"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
)

// NSS is the subid database that /etc/nsswitch.conf selects for
// newuidmap, newgidmap and getsubids.
type NSS struct {
	// Module is "files" (the default: /etc/subuid and /etc/subgid) or the
	// name of a libsubid_<module>.so plugin, such as "sss".
	Module string
	Line   int    // line of the subid: entry used, or 0
	Diags  []Diag // surprises, such as a module name with a CR in it
}

// Files reports whether the files /etc/subuid and /etc/subgid are the
// database. usermod --add-subuids only writes those files.
func (n NSS) Files() bool { return n.Module == "files" }

// ParseNSSwitch reads nsswitch.conf the way shadow's nss_init (lib/nss.c)
// does: the first line that starts with "subid:" (in any case) and names a
// module wins, and only its first word counts. Comment lines start with '#'.
// shadow falls back to "files" when there is no such line, when the name is
// longer than 50 bytes, and when the plugin cannot be loaded (which only the
// real program can tell), and it gives up on files that are not text (no
// final newline, or a NUL byte) in shadow 4.19 and later. name is used in
// diagnostics. The error is non-nil only when reading r fails.
func ParseNSSwitch(name string, r io.Reader) (NSS, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return NSS{}, fmt.Errorf("idmap: read %s: %w", name, err)
	}
	return parseNSSwitch(name, string(data)), nil
}

func parseNSSwitch(name, data string) NSS {
	out := NSS{Module: "files"}
	n := 0
	for len(data) > 0 {
		n++
		line, rest, found := strings.Cut(data, "\n")
		data = rest
		if !found || strings.IndexByte(line, 0) >= 0 {
			out.Diags = append(out.Diags, Diag{File: name, Line: n, Severity: diag.Info, Code: "not-subid-module",
				Msg: "not a text file (no final newline or a NUL byte): shadow 4.19 and later ignore its subid: line and use the files"})
			if !found && strings.IndexByte(line, 0) < 0 {
				// Older shadow still reads the last line.
				if m, ok := nssLine(line); ok {
					out.Module, out.Line = m, n
				}
			}
			return out
		}
		if m, ok := nssLine(line); ok {
			out.Module, out.Line = m, n
			switch {
			case len(m) > 50:
				out.Diags = append(out.Diags, Diag{File: name, Line: n, Severity: diag.Warning, Code: "not-subid-module",
					Msg: "subid module name longer than 50 bytes: shadow uses the files"})
				out.Module = "files"
			case strings.ContainsAny(m, "\r\v\f"):
				out.Diags = append(out.Diags, Diag{File: name, Line: n, Severity: diag.Warning, Code: "not-subid-module",
					Msg: fmt.Sprintf("subid module %q contains a control character: shadow cannot load it and uses the files", m)})
				out.Module = "files"
			}
			return out // shadow stops reading here
		}
	}
	return out
}

// nssLine returns the module of a "subid: module ..." line.
func nssLine(line string) (string, bool) {
	if strings.HasPrefix(line, "#") || len(line) < 7 || !strings.EqualFold(line[:6], "subid:") {
		return "", false
	}
	p := strings.TrimLeft(line[6:], " \t")
	if p == "" {
		return "", false
	}
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		p = p[:i]
	}
	return p, true
}
