package netdriver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Slirp4netnsFeatures lists what "slirp4netns --help" advertises. RootlessKit
// needs NetnsType (slirp4netns 0.4.0 or later).
type Slirp4netnsFeatures struct {
	NetnsType           bool // --netns-type (0.4.0)
	EnableIPv6          bool // --enable-ipv6 (0.2.0)
	CIDR                bool // --cidr (0.3.0)
	DisableHostLoopback bool // --disable-host-loopback (0.3.0)
	APISocket           bool // --api-socket (0.3.0), needed by the slirp4netns port driver
	EnableSandbox       bool // --enable-sandbox (0.4.0)
	EnableSeccomp       bool // --enable-seccomp (0.4.0)
}

// ParseSlirp4netnsHelp reads the output of "slirp4netns --help". A flag
// counts only as a whole word, as `grep -w -- --netns-type` does in
// dockerd-rootless.sh.
func ParseSlirp4netnsHelp(out []byte) Slirp4netnsFeatures {
	return Slirp4netnsFeatures{
		NetnsType:           hasWord(out, "--netns-type"),
		EnableIPv6:          hasWord(out, "--enable-ipv6"),
		CIDR:                hasWord(out, "--cidr"),
		DisableHostLoopback: hasWord(out, "--disable-host-loopback"),
		APISocket:           hasWord(out, "--api-socket"),
		EnableSandbox:       hasWord(out, "--enable-sandbox"),
		EnableSeccomp:       hasWord(out, "--enable-seccomp"),
	}
}

// hasWord reports whether w occurs in b delimited by non-word characters
// (grep -w: letters, digits and underscore are word characters).
func hasWord(b []byte, w string) bool {
	isWord := func(c byte) bool {
		return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(w))
		if j < 0 {
			return false
		}
		start := i + j
		end := start + len(w)
		// w starts with "-", a non-word character, so only the end matters
		// and the character before must not extend a longer option.
		beforeOK := start == 0 || !isWord(b[start-1]) && b[start-1] != '-'
		afterOK := end == len(b) || !isWord(b[end]) && b[end] != '-'
		if beforeOK && afterOK {
			return true
		}
		i = start + 1
	}
}

// ParseSlirp4netnsVersion reads the output of "slirp4netns --version"
// ("slirp4netns version 1.2.0\ncommit: ...").
func ParseSlirp4netnsVersion(out []byte) (Version, error) {
	line := firstLineBytes(out)
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "slirp4netns" || f[1] != "version" {
		return Version{}, fmt.Errorf("netdriver: unrecognised slirp4netns version output %q", clip(line))
	}
	v, ok := parseTriple(f[2])
	if !ok {
		return Version{}, fmt.Errorf("netdriver: unrecognised slirp4netns version %q", clip(f[2]))
	}
	return v, nil
}

// PastaVersion is a passt/pasta release. Releases are named by date:
// upstream prints "pasta 2025_01_21.4f2c8e7", Fedora and RHEL print
// "pasta 0^20240624.g1ee2eca-1.el9.x86_64", and Debian's packaging of
// 2023 prints "pasta unknown version". An unknown version has Known false;
// it is not older or newer than anything.
type PastaVersion struct {
	// Raw is the version text as printed, e.g. "2025_01_21.4f2c8e7" or "unknown version".
	Raw string
	// Date is the release date (UTC midnight); zero if unknown.
	Date time.Time
	// Commit is the abbreviated git commit, if printed.
	Commit string
}

// Known reports whether the release date is known.
func (v PastaVersion) Known() bool { return !v.Date.IsZero() }

// String returns the release as upstream names it, "2025_01_21.4f2c8e7"
// (or "2025_01_21" without a commit), or Raw if the date is unknown.
func (v PastaVersion) String() string {
	if !v.Known() {
		if v.Raw == "" {
			return "unknown version"
		}
		return v.Raw
	}
	s := v.Date.Format("2006_01_02")
	if v.Commit != "" {
		s += "." + v.Commit
	}
	return s
}

// AtLeast reports whether v is known and released on or after the given
// upstream release ("2023_12_04").
func (v PastaVersion) AtLeast(release string) bool {
	d, err := time.Parse("2006_01_02", release)
	if err != nil || !v.Known() {
		return false
	}
	return !v.Date.Before(d)
}

// Pasta releases that matter to RootlessKit.
const (
	// PastaMinimum is the oldest pasta RootlessKit's pasta driver works with.
	PastaMinimum = "2023_06_25"
	// PastaImplicit is the oldest pasta recommended for the implicit port driver.
	PastaImplicit = "2023_12_04"
	// PastaPesto is the oldest pasta (with --conf-path) the pesto port driver works with.
	PastaPesto = "2026_05_07"
)

// ParsePastaVersion reads the output of "pasta --version" (or "passt
// --version"). "unknown version" and unrecognised version strings give a
// PastaVersion with Known false and no error; output that does not start
// with "pasta" or "passt" is an error.
func ParsePastaVersion(out []byte) (PastaVersion, error) {
	line := firstLineBytes(out)
	name, rest, _ := strings.Cut(line, " ")
	if name != "pasta" && name != "passt" {
		return PastaVersion{}, fmt.Errorf("netdriver: unrecognised pasta version output %q", clip(line))
	}
	rest = strings.TrimSpace(rest)
	v := parsePastaRelease(rest)
	v.Raw = clip(rest)
	return v, nil
}

// parsePastaRelease understands "2025_01_21.4f2c8e7[-N-gHASH]",
// "0^20240624.g1ee2eca-1.el9.x86_64" (Fedora) and
// "0.0~git20230309.7c7625d-1" (Debian package versions).
func parsePastaRelease(s string) PastaVersion {
	var date, commit string
	switch {
	case strings.HasPrefix(s, "0^"):
		date, commit, _ = strings.Cut(s[2:], ".")
		commit = strings.TrimPrefix(commit, "g")
	case strings.HasPrefix(s, "0.0~git"):
		date, commit, _ = strings.Cut(s[len("0.0~git"):], ".")
	default:
		date, commit, _ = strings.Cut(s, ".")
		if len(date) != len("2006_01_02") || date[4] != '_' || date[7] != '_' {
			return PastaVersion{}
		}
		date = date[0:4] + date[5:7] + date[8:10]
	}
	if len(date) != 8 {
		return PastaVersion{}
	}
	for i := 0; i < len(date); i++ {
		if date[i] < '0' || date[i] > '9' {
			return PastaVersion{}
		}
	}
	t, err := time.Parse("20060102", date)
	if err != nil || t.Year() < 2019 {
		return PastaVersion{}
	}
	// The commit is the leading hex digits (Fedora appends "-1.fc40...").
	end := 0
	for end < len(commit) && end < 40 && isHex(commit[end]) {
		end++
	}
	return PastaVersion{Date: t, Commit: commit[:end]}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
}

// LXCUserNetEntry is one line of /etc/lxc/lxc-usernet:
// "USER TYPE BRIDGE COUNT" or "@GROUP TYPE BRIDGE COUNT".
type LXCUserNetEntry struct {
	Who    string // user name, or "@group"
	Type   string // "veth"
	Bridge string
	Count  int
}

// ParseLXCUserNet parses /etc/lxc/lxc-usernet. Comments (#) and blank lines
// are skipped; malformed lines are skipped too, as lxc-user-nic does.
func ParseLXCUserNet(r io.Reader) []LXCUserNetEntry {
	var out []LXCUserNetEntry
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		n, err := strconv.Atoi(f[3])
		if err != nil || n < 0 {
			continue
		}
		out = append(out, LXCUserNetEntry{Who: f[0], Type: f[1], Bridge: f[2], Count: n})
	}
	return out
}

// dpkgVersion returns the Version field of package pkg in the dpkg status
// file b, and whether the package is installed.
func dpkgVersion(b []byte, pkg string) (string, bool) {
	for _, para := range strings.Split(string(b), "\n\n") {
		var name, status, version string
		for _, l := range strings.Split(para, "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch k {
			case "Package":
				name = v
			case "Status":
				status = v
			case "Version":
				version = v
			}
		}
		if name == pkg {
			return version, strings.HasSuffix(status, " installed") && version != ""
		}
	}
	return "", false
}
