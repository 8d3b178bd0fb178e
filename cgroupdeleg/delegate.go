package cgroupdeleg

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-systemd/v22/unit"
)

// systemdControllers are the names systemd accepts in Delegate=, in its
// own order (cgroup_controller_table). Anything else, hugetlb included, is
// logged as "Invalid controller name" and ignored (systemd#16325).
var systemdControllers = []string{
	"cpu", "cpuacct", "cpuset", "io", "blkio", "memory", "devices", "pids",
	"bpf-firewall", "bpf-devices", "bpf-foreign", "bpf-socket-bind",
	"bpf-restrict-network-interfaces", "bpf-bind-network-interface",
}

// defaultWanted is what rootless Docker needs to honour --cpus,
// --cpuset-cpus, --device-*-bps, --memory and --pids-limit.
var defaultWanted = []string{"cpu", "cpuset", "io", "memory", "pids"}

// DefaultControllers returns the controllers [Detect] wants when called
// without any: cpu cpuset io memory pids.
func DefaultControllers() []string { return slices.Clone(defaultWanted) }

// Delegatable reports whether systemd accepts controller in Delegate=.
func Delegatable(controller string) bool {
	return slices.Contains(systemdControllers, controller)
}

// sortControllers sorts in systemd's order, unknown names last in byte
// order, and removes duplicates.
func sortControllers(cs []string) []string {
	rank := func(c string) int {
		if i := slices.Index(systemdControllers, c); i >= 0 {
			return i
		}
		return len(systemdControllers)
	}
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(cs)
}

// Delegate is the effective value of systemd's Delegate= setting after a
// sequence of assignments. The zero value is "Delegate=no".
type Delegate struct {
	// On reports that delegation is enabled.
	On bool
	// All reports "Delegate=yes": every controller systemd supports.
	All bool
	// Controllers lists the delegated controllers when On and not All, in
	// systemd's order, without duplicates. On with no Controllers is the
	// state an empty "Delegate=" leaves: enabled, but no controllers.
	Controllers []string
	// Invalid lists what systemd ignored: controller names it rejects
	// ("hugetlb"), and whole values it cannot split (unbalanced quotes).
	Invalid []string
}

// ParseDelegate applies Delegate= values in order, with systemd's
// semantics (systemd.resource-control(5)):
//
//   - a boolean ("yes", "true", "on", "1", ...) turns delegation on for all
//     controllers, or off ("no", "false", ...), discarding earlier lists;
//   - an empty value turns delegation on and resets the list to nothing;
//   - a list of controllers turns delegation on and adds to the list, so
//     lists from a unit file and its drop-ins accumulate.
//
// Values are split like systemd splits them: on whitespace, honouring
// quotes and backslash escapes.
func ParseDelegate(values ...string) Delegate {
	var d Delegate
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			d = Delegate{On: true, Invalid: d.Invalid}
			continue
		}
		if b, ok := parseBool(v); ok {
			d = Delegate{On: b, All: b, Invalid: d.Invalid}
			continue
		}
		words, ok := splitWords(v)
		if !ok {
			d.Invalid = appendNew(d.Invalid, v)
			continue
		}
		d.On = true
		for _, w := range words {
			if !Delegatable(w) {
				d.Invalid = appendNew(d.Invalid, w)
				continue
			}
			if !d.All {
				d.Controllers = sortControllers(append(d.Controllers, w))
			}
		}
	}
	return d
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// Has reports whether controller is delegated.
func (d Delegate) Has(controller string) bool {
	if !d.On {
		return false
	}
	if d.All {
		return Delegatable(controller)
	}
	return slices.Contains(d.Controllers, controller)
}

// String describes d: "no", "yes", "cpu memory pids", or
// "yes, no controllers" for an empty Delegate=.
func (d Delegate) String() string {
	switch {
	case !d.On:
		return "no"
	case d.All:
		return "yes"
	case len(d.Controllers) == 0:
		return "yes, no controllers"
	}
	return strings.Join(d.Controllers, " ")
}

// parseBool mirrors systemd's parse_boolean.
func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "1", "yes", "y", "true", "t", "on":
		return true, true
	case "0", "no", "n", "false", "f", "off":
		return false, true
	}
	return false, false
}

// splitWords splits like systemd's extract_first_word with
// EXTRACT_UNQUOTE: whitespace separates words, '…' and "…" quote, and a
// backslash takes the next character literally. ok is false for an
// unterminated quote or a trailing backslash.
func splitWords(s string) (words []string, ok bool) {
	var (
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case strings.ContainsRune(" \t\n\r", r):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if escaped || quote != 0 {
		return nil, false
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, true
}

// Assignment is one Delegate= line of a unit file or drop-in.
type Assignment struct {
	File  string // as given to ParseUnit, e.g. "/etc/systemd/system/user@.service.d/delegate.conf"
	Line  int    // 1-based line of "Delegate="
	Value string // the value; continued lines are joined with one space
}

func (a Assignment) String() string {
	return fmt.Sprintf("%s:%d: Delegate=%s", a.File, a.Line, a.Value)
}

// ParseUnit reads a systemd unit file or drop-in with go-systemd's unit
// parser and returns its Delegate= assignments of the [Service] section,
// in file order, each with its line number. name is recorded in
// Assignment.File.
//
// The error reports syntax that go-systemd rejects (a line longer than
// 2048 bytes, text without '='). systemd itself skips such lines, so a
// caller may prefer to report the file than to stop.
func ParseUnit(name string, r io.Reader) ([]Assignment, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("cgroupdeleg: read %s: %w", name, err)
	}
	opts, err := unit.DeserializeOptions(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("cgroupdeleg: parse %s: %w", name, err)
	}
	lines := optionLines(data)
	var as []Assignment
	for i, o := range opts {
		if o.Section != "Service" || o.Name != "Delegate" {
			continue
		}
		line := 0
		if len(lines) == len(opts) {
			line = lines[i]
		}
		as = append(as, Assignment{File: name, Line: line, Value: joinContinued(o.Value)})
	}
	return as, nil
}

// joinContinued joins the lines of a value continued with a trailing
// backslash, with one space between them.
func joinContinued(v string) string {
	parts := strings.Split(v, "\\\n")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

// optionLines returns the 1-based line on which each option starts, by
// walking data with the same state machine as go-systemd's lexer
// (unit/deserialize.go), which reports no positions. It is only valid when
// that lexer accepted data.
func optionLines(data []byte) []int {
	var (
		lines []int
		i     int
		line  = 1
	)
	next := func() (rune, bool) {
		if i >= len(data) {
			return 0, false
		}
		r, n := utf8.DecodeRune(data[i:])
		if r == '\n' {
			line++
		}
		i += n
		return r, true
	}
	// toEOL consumes the rest of the line including its '\n' and trims
	// like go-systemd: TrimSuffix("\r"), then TrimSuffix("\n").
	toEOL := func() []byte {
		start := i
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			i = len(data)
		} else {
			i += j + 1
			line++
		}
		l := data[start:i]
		l = bytes.TrimSuffix(l, []byte{'\r'})
		l = bytes.TrimSuffix(l, []byte{'\n'})
		return l
	}
	ignoreLine := func() {
		for {
			l := bytes.TrimSuffix(toEOL(), []byte{' '})
			if !bytes.HasSuffix(l, []byte{'\\'}) || i >= len(data) {
				return
			}
		}
	}
	sectionName := func() bool {
		j := bytes.IndexByte(data[i:], ']')
		if j < 0 {
			return false
		}
		line += bytes.Count(data[i:i+j+1], []byte{'\n'})
		i += j + 1
		toEOL()
		return true
	}
	// Before the first section.
	for {
		r, ok := next()
		if !ok {
			return lines
		}
		if r == '[' {
			if !sectionName() {
				return lines
			}
			break
		}
		if r == '#' || r == ';' {
			ignoreLine()
		}
	}
	for {
		start, startLine := i, line
		r, ok := next()
		if !ok {
			return lines
		}
		switch {
		case unicode.IsSpace(r):
			continue
		case r == '[':
			if !sectionName() {
				return lines
			}
			continue
		case r == '#' || r == ';':
			ignoreLine()
			continue
		}
		i, line = start, startLine
		lines = append(lines, line)
		j := bytes.IndexByte(data[i:], '=')
		if j < 0 {
			return lines
		}
		i += j + 1
		for {
			l := toEOL()
			if len(bytes.TrimSpace(l)) == 0 || !bytes.HasSuffix(l, []byte{'\\'}) || i >= len(data) {
				break
			}
		}
	}
}

// DropInPath is where [DropIn]'s file goes: a drop-in for the template of
// every user@UID.service.
const DropInPath = "/etc/systemd/system/user@.service.d/delegate.conf"

// DropIn returns the drop-in that delegates controllers to every user's
// systemd manager, and the path to install it at ([DropInPath]), as the
// Docker rootless documentation prescribes. With no controllers it
// delegates [DefaultControllers]. Install it as root and run
// "systemctl daemon-reload"; cpuset needs systemd 244 or later.
//
// Lists accumulate with the Delegate= of user@.service itself, so the
// drop-in only adds controllers. The error reports names systemd rejects,
// such as hugetlb.
func DropIn(controllers ...string) (path string, body []byte, err error) {
	if len(controllers) == 0 {
		controllers = defaultWanted
	}
	var bad []string
	for _, c := range controllers {
		if !Delegatable(c) {
			bad = append(bad, c)
		}
	}
	if len(bad) > 0 {
		return "", nil, fmt.Errorf("cgroupdeleg: DropIn: systemd cannot delegate %s (Delegate= accepts %s)",
			strings.Join(bad, ", "), strings.Join(systemdControllers, " "))
	}
	opts := []*unit.UnitOption{unit.NewUnitOption("Service", "Delegate", strings.Join(sortControllers(controllers), " "))}
	body, err = io.ReadAll(unit.Serialize(opts))
	if err != nil {
		return "", nil, fmt.Errorf("cgroupdeleg: DropIn: %w", err)
	}
	return DropInPath, body, nil
}
