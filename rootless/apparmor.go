package rootless

import (
	"bufio"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
)

// An apparmorProfile is a top-level profile of a file in /etc/apparmor.d, as far as the
// user-namespace checks need it.
type apparmorProfile struct {
	name   string // the profile's name
	attach string // the attachment: a path glob (AARE) of the programs it confines; "" if none
	file   string // the file, e.g. /etc/apparmor.d/usr.bin.rootlesskit
	line   int    // the line of its header
	flags  []string
	// userns is an allowing `userns,` rule; deniesUserns an explicit `deny userns` rule.
	userns, deniesUserns bool
	userLine             int // the line of the userns rule
	re                   *regexp.Regexp
}

// grantsUserns reports whether the profile lets its programs create user namespaces that
// work under the kernel's mediation (AppArmor 4): an allowing `userns,` rule is needed even
// with flags=(unconfined), which is how Ubuntu's and Debian's rootlesskit profiles read.
func (p apparmorProfile) grantsUserns() bool { return p.userns && !p.deniesUserns }

func (p apparmorProfile) at() string { return fmt.Sprintf("%s:%d", p.file, p.line) }

var (
	// profile NAME ATTACH flags=(...) {   or   ATTACH flags=(...) {   or   profile NAME {
	profileHeader = regexp.MustCompile(`^\s*(?:profile\s+("[^"]*"|\S+?)(?:\s+("[^"]*"|[/@]\S*?))?|("[^"]*"|[/@]\S*?))\s*(?:xattrs\s*=\s*\([^)]*\)\s*)?(?:flags\s*=\s*\(([^)]*)\)\s*)?\{\s*$`)
	usernsRule    = regexp.MustCompile(`^\s*(audit\s+)?(allow\s+|deny\s+)?userns(\s+create)?\s*,`)
)

// parseProfiles reads the top-level profiles of one policy file. Hats, child profiles and
// rules that come from includes are not followed.
func parseProfiles(file, text string) []apparmorProfile {
	var out []apparmorProfile
	depth := 0
	cur := -1
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "#include") {
			continue
		} else if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if depth == 0 {
			if m := profileHeader.FindStringSubmatch(line); m != nil && (m[1] != "" || m[3] != "") {
				name, attach := unquote(m[1]), unquote(m[2]+m[3])
				if name == "" {
					name = attach
				} else if attach == "" && strings.HasPrefix(name, "/") {
					attach = name
				}
				p := apparmorProfile{name: name, attach: attach, file: file, line: n}
				for _, f := range strings.FieldsFunc(m[4], func(r rune) bool { return r == ',' || r == ' ' }) {
					p.flags = append(p.flags, f)
				}
				if attach != "" {
					p.re = aareRegexp(attach)
				}
				out = append(out, p)
				cur = len(out) - 1
				depth = 1
				continue
			}
		} else if depth == 1 && cur >= 0 {
			if m := usernsRule.FindStringSubmatch(line); m != nil {
				if strings.TrimSpace(m[2]) == "deny" {
					out[cur].deniesUserns = true
				} else {
					out[cur].userns = true
				}
				out[cur].userLine = n
			}
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if depth <= 0 {
			depth, cur = 0, -1
		}
	}
	return out
}

func unquote(s string) string { return strings.Trim(s, `"`) }

// apparmorVars are the values of the variables that attachments use, as the tunables of
// AppArmor 3 and 4 define them.
var apparmorVars = map[string]string{
	"HOME": "{/home/*,/root}", "HOMEDIRS": "/home", "multiarch": "*-linux-gnu*", "PROC": "/proc",
	"sys": "/sys", "run": "{/var,}/run", "bin": "{/usr,}/{,s}bin", "sbin": "{/usr,}/sbin",
	"lib": "{/usr,}/lib{,32,64,x32}", "user_share_dirs": "{/home/*,/root}/.local/share",
}

var aareVar = regexp.MustCompile(`@\{([^}]+)\}`)

// aareRegexp turns an AppArmor path glob into a regexp: ** matches across slashes, * and ?
// within one component, {a,b} either, [...] a class; unknown variables match anything.
func aareRegexp(glob string) *regexp.Regexp {
	glob = aareVar.ReplaceAllStringFunc(glob, func(v string) string {
		if val, ok := apparmorVars[v[2:len(v)-1]]; ok {
			return val
		}
		return "**"
	})
	var b strings.Builder
	b.WriteString("^")
	depth := 0
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch {
		case c == '*' && i+1 < len(glob) && glob[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '{':
			b.WriteString("(?:")
			depth++
		case c == '}' && depth > 0:
			b.WriteString(")")
			depth--
		case c == ',' && depth > 0:
			b.WriteString("|")
		case c == '[':
			j := strings.IndexByte(glob[i:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			b.WriteString(strings.Replace(glob[i:i+j+1], "[^", "[^", 1))
			i += j
		case c == '\\' && i+1 < len(glob):
			b.WriteString(regexp.QuoteMeta(glob[i+1 : i+2]))
			i++
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	for ; depth > 0; depth-- {
		b.WriteString(")")
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return regexp.MustCompile(`^` + regexp.QuoteMeta(glob) + `$`)
	}
	return re
}

// attaches reports whether the profile confines the program at the absolute path exe.
func (p apparmorProfile) attaches(exe string) bool {
	return p.re != nil && p.re.MatchString(path.Clean(strings.ReplaceAll(exe, "//", "/")))
}

// profilesFor returns the profiles in /etc/apparmor.d that attach to exe, the most specific
// (an exact path) first. Files that do not mention exe's base name are not parsed.
func profilesFor(h *host, exe string) []apparmorProfile {
	entries, err := fs.ReadDir(h.net.FS, "etc/apparmor.d")
	if err != nil {
		return nil
	}
	base := path.Base(exe)
	var out []apparmorProfile
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), ".dpkg-old") ||
			strings.HasSuffix(e.Name(), ".dpkg-dist") || strings.HasSuffix(e.Name(), "~") {
			continue
		}
		file := "/etc/apparmor.d/" + e.Name()
		b, err := h.net.ReadFile(file)
		if err != nil || !strings.Contains(string(b), base) && !strings.Contains(string(b), "**") {
			continue
		}
		for _, p := range parseProfiles(file, string(b)) {
			if p.attaches(exe) {
				out = append(out, p)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b apparmorProfile) int {
		ea, eb := a.attach == exe, b.attach == exe
		switch {
		case ea && !eb:
			return -1
		case eb && !ea:
			return 1
		}
		return 0
	})
	return out
}

// profileFileName is the conventional name of exe's profile in /etc/apparmor.d: the path
// without its leading slash, with dots for slashes (/usr/local/bin/rootlesskit:
// usr.local.bin.rootlesskit), as Docker's documentation writes it.
func profileFileName(exe string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path.Clean(exe), "/"), "/", ".")
}

// profileFix is the ready-to-paste fix that lets exe create user namespaces: Docker's
// documented profile for rootlesskit, for this exact path, loaded at once.
func profileFix(exe string) string {
	name := profileFileName(exe)
	attach := exe
	if strings.ContainsAny(exe, " \t\"{}[]*?,#") {
		attach = `"` + strings.ReplaceAll(exe, `"`, `\"`) + `"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "sudo tee /etc/apparmor.d/%s >/dev/null <<'EOF'\n", name)
	fmt.Fprintf(&b, "abi <abi/4.0>,\ninclude <tunables/global>\n\n%s flags=(unconfined) {\n  userns,\n\n  include if exists <local/%s>\n}\nEOF\n", attach, name)
	fmt.Fprintf(&b, "sudo apparmor_parser -r /etc/apparmor.d/%s   # or: sudo systemctl restart apparmor.service", name)
	if strings.Contains(exe, "/go-build") || strings.HasPrefix(exe, "/tmp/") {
		b.WriteString("\n# " + exe + " is a temporary build: build the program to a fixed path first (go build -o), and write the profile for that path")
	}
	return b.String()
}

// addUsernsFix is the fix for an existing profile that lacks the userns rule.
func addUsernsFix(p apparmorProfile) string {
	return fmt.Sprintf("# add the line \"  userns,\" to profile %s (%s), e.g.:\nsudo sed -i '%ds/{\\s*$/{\\n  userns,/' %s\nsudo apparmor_parser -r %s",
		p.name, p.at(), p.line, p.file, p.file)
}
