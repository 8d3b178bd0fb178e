package cgroupdeleg

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Proc is the parsed content of /proc/PID/cgroup.
type Proc struct {
	// V2 is the path of the "0::" line, relative to the process's cgroup
	// namespace root, without a " (deleted)" suffix. It is "" if there is no
	// such line. Its presence does not mean the host is Unified: Hybrid
	// hosts list it too (use [DetectMode]).
	V2 string
	// Deleted reports that the kernel marked V2 " (deleted)": the cgroup
	// was removed while the process still belonged to it.
	Deleted bool
	// V1 maps each cgroup v1 controller ("cpu", "memory") or named
	// hierarchy ("name=systemd") to the process's path in it.
	V1 map[string]string
}

// ParseProcCgroup parses /proc/PID/cgroup: lines of
// "hierarchy-ID:controller-list:path". Paths are kept literally; they may
// contain ':' and systemd escapes such as \x2d.
//
// Malformed lines are skipped and reported in the error, which joins one
// error per bad line (line numbers start at 1); the returned Proc holds
// every well-formed line even then. Only read errors lose data.
func ParseProcCgroup(r io.Reader) (Proc, error) {
	var p Proc
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	sc.Split(scanLF)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		bad := func(why string) {
			if len(errs) < 10 {
				errs = append(errs, fmt.Errorf("cgroupdeleg: /proc/self/cgroup:%d: %s: %q", n, why, truncate(line, 80)))
			}
		}
		id, rest, ok := strings.Cut(line, ":")
		ctrls, cgpath, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 {
			bad("want hierarchy-ID:controllers:path")
			continue
		}
		hid, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			bad("hierarchy ID is not a number")
			continue
		}
		if !strings.HasPrefix(cgpath, "/") {
			bad("path does not start with /")
			continue
		}
		if hid == 0 {
			if ctrls != "" {
				bad("hierarchy 0 lists controllers")
				continue
			}
			if p.V2 != "" {
				bad("second 0:: line")
				continue
			}
			if s, ok := strings.CutSuffix(cgpath, " (deleted)"); ok && s != "" {
				cgpath, p.Deleted = s, true
			}
			p.V2 = cgpath
			continue
		}
		if ctrls == "" {
			bad("v1 hierarchy without controllers")
			continue
		}
		for c := range strings.SplitSeq(ctrls, ",") {
			if c == "" {
				continue
			}
			if p.V1 == nil {
				p.V1 = map[string]string{}
			}
			p.V1[c] = cgpath
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("cgroupdeleg: read /proc/self/cgroup: %w", err))
	}
	return p, errors.Join(errs...)
}

// scanLF splits at '\n' only: unlike bufio.ScanLines it keeps a '\r',
// which may end a cgroup name.
func scanLF(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// String formats p in /proc/PID/cgroup syntax, one v1 controller per
// line, numbered in name order, then the "0::" line.
func (p Proc) String() string {
	var b strings.Builder
	for i, c := range slices.Sorted(maps.Keys(p.V1)) {
		fmt.Fprintf(&b, "%d:%s:%s\n", i+1, c, p.V1[c])
	}
	if p.V2 != "" {
		b.WriteString("0::" + p.V2)
		if p.Deleted {
			b.WriteString(" (deleted)")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// mountRoot returns the root (field 4) of the last cgroup2 mount at
// mountpoint in a /proc/self/mountinfo stream, with octal escapes decoded.
// A mount whose root is not "/" shows a subtree of the hierarchy, so cgroup
// paths from /proc/self/cgroup must be made relative to it.
func mountRoot(r io.Reader, mountpoint string) (root string, ok bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		if len(f) < 7 {
			continue
		}
		sep := slices.Index(f[6:], "-")
		if sep < 0 || 6+sep+1 >= len(f) {
			continue
		}
		if f[6+sep+1] != "cgroup2" || unescapeMount(f[4]) != mountpoint {
			continue
		}
		root, ok = unescapeMount(f[3]), true
	}
	return root, ok
}

// unescapeMount decodes the \NNN octal escapes of mountinfo fields.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// busPath returns the socket path of the first unix:path= address in a
// D-Bus address list ("unix:path=/run/user/1000/bus,guid=..;tcp:..."),
// with %XX escapes decoded. abstract reports a unix:abstract= address,
// which has no path to check.
func busPath(addr string) (p string, abstract bool) {
	for a := range strings.SplitSeq(addr, ";") {
		transport, params, ok := strings.Cut(a, ":")
		if !ok || transport != "unix" {
			continue
		}
		for kv := range strings.SplitSeq(params, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "path":
				if v, ok := unescapeBus(v); ok && strings.HasPrefix(v, "/") {
					return v, false
				}
			case "abstract":
				abstract = true
			}
		}
	}
	return "", abstract
}

func unescapeBus(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}
