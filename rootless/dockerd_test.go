package rootless

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// TestScanFile puts needles at and across the 1 MiB chunk boundaries of scan and checks that
// each is found exactly when present. The file is not ELF, so it is read whole.
func TestScanFile(t *testing.T) {
	const chunk = 1 << 20
	needles := [][]byte{
		[]byte("failed to enter detached network namespace"),
		[]byte("probably RootlessKit binary is too old (needs"), // the longest: it sets the overlap
		[]byte("short"),
		[]byte("absent needle"),
	}
	longest := 0
	for _, n := range needles {
		longest = max(longest, len(n))
	}
	tests := []struct {
		name string
		size int
		at   map[int]int // needle index -> offset
	}{
		{name: "empty file", size: 0},
		{name: "smaller than a chunk", size: 1000, at: map[int]int{2: 10}},
		{name: "at the very start", size: 3 * chunk, at: map[int]int{0: 0}},
		{name: "at the very end", size: 3*chunk + 17, at: map[int]int{1: 3*chunk + 17 - len(needles[1])}},
		// The first read takes chunk+longest bytes, the later ones chunk, after longest carried bytes.
		{name: "straddles the first boundary", size: 3 * chunk, at: map[int]int{0: chunk + longest - 10}},
		{name: "straddles the second boundary", size: 3 * chunk, at: map[int]int{1: 2*chunk + longest - 1}},
		{name: "ends one byte past a boundary", size: 3 * chunk, at: map[int]int{2: 2*chunk + longest - len("short") + 1}},
		{name: "starts on a boundary", size: 3 * chunk, at: map[int]int{2: 2*chunk + longest}},
		{name: "just before the first boundary", size: 3 * chunk, at: map[int]int{2: chunk + longest - len("short")}},
		{name: "needs all but one carried byte", size: 3 * chunk, at: map[int]int{1: 2*chunk + 1}},
		{name: "all at once", size: 4 * chunk, at: map[int]int{0: chunk - 5, 1: 2*chunk + longest - 20, 2: 4*chunk - 5}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{'.'}, tt.size)
			for i, off := range tt.at {
				copy(data[off:], needles[i])
			}
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := scanPath(path, needles...)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]bool, len(needles))
			for i := range tt.at {
				want[i] = true
			}
			if !slices.Equal(got, want) {
				t.Errorf("scanFile = %v, want %v", got, want)
			}
		})
	}
	if _, err := scanPath(filepath.Join(dir, "missing")); err == nil {
		t.Error("scanFile of a missing file: no error")
	}
}

// TestScanFileELF scans this test binary, an ELF file, through its .rodata section.
func TestScanFileELF(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	const literal = "a string literal that lands in .rodata: 7c1e0f"
	var rev []byte
	for i := len(literal) - 1; i >= 0; i-- {
		rev = append(rev, literal[i]) // built at run time, so not in the binary
	}
	got, err := scanPath(exe, []byte(literal), rev)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0] || got[1] {
		t.Errorf("scanFile(test binary) = %v, want [true false]", got)
	}
}

func TestParseDockerdVersion(t *testing.T) {
	for _, tt := range []struct{ out, want string }{
		{"Docker version 20.10.24+dfsg1, build 5d6db84\n", "20.10.24+dfsg1"},
		{"Docker version 2.0.0-beta.24, build module-proxy", "2.0.0-beta.24"},
		{"Docker version 29.7.2, build 6b2f4b0", "29.7.2"},
		{"  Docker version library-import, build library-import  ", "library-import"},
		{"", ""},
	} {
		if got := parseDockerdVersion(tt.out); got != tt.want {
			t.Errorf("parseDockerdVersion(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}

func TestDockerRelease(t *testing.T) {
	for _, tt := range []struct {
		v            string
		major, minor int
		ok           bool
	}{
		{"20.10.24+dfsg1", 20, 10, true},
		{"29.5.0", 29, 5, true},
		{"28.0.0-rc.1", 28, 0, true},
		{"17.03.2-ce", 17, 3, true},
		{"2.0.0-beta.24", 0, 0, false}, // a Go module version of a library build, not a Docker release
		{"1.13.1", 0, 0, false},
		{"library-import", 0, 0, false},
		{"29", 0, 0, false},
		{"", 0, 0, false},
	} {
		major, minor, ok := dockerRelease(tt.v)
		if major != tt.major || minor != tt.minor || ok != tt.ok {
			t.Errorf("dockerRelease(%q) = %d, %d, %v; want %d, %d, %v", tt.v, major, minor, ok, tt.major, tt.minor, tt.ok)
		}
	}
}

func TestLdflagsVersion(t *testing.T) {
	// The -ldflags of Debian's docker.io 20.10.24+dfsg1 dockerd, from `go version -m /usr/sbin/dockerd`.
	const debian = " \t\t-w \t-X \"github.com/docker/docker/dockerversion.Version=20.10.24+dfsg1\" \t-X \"github.com/docker/docker/dockerversion.GitCommit=5d6db84\" \t-X \"github.com/docker/docker/dockerversion.BuildTime=2026-05-07T21:09:36.000000000+00:00\" \t-X \"github.com/docker/docker/dockerversion.IAmStatic=false\""
	for _, tt := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{[]debug.BuildSetting{{Key: "CGO_ENABLED", Value: "1"}, {Key: "-ldflags", Value: debian}}, "20.10.24+dfsg1"},
		{[]debug.BuildSetting{{Key: "-ldflags", Value: "-X github.com/docker/docker/dockerversion.Version=29.7.2 -w"}}, "29.7.2"},
		{[]debug.BuildSetting{{Key: "-ldflags", Value: "-X 'github.com/docker/docker/dockerversion.Version=28.5.2'"}}, "28.5.2"},
		{[]debug.BuildSetting{{Key: "-ldflags", Value: "-X github.com/docker/docker/dockerversion.Version=20.10.24\t-X x.y=z"}}, "20.10.24"},
		{[]debug.BuildSetting{{Key: "-ldflags", Value: "-s -w"}}, ""},
		{nil, ""},
	} {
		if got := ldflagsVersion(&debug.BuildInfo{Settings: tt.settings}); got != tt.want {
			t.Errorf("ldflagsVersion(%q) = %q, want %q", tt.settings, got, tt.want)
		}
	}
}

// scanPath scans the file at path as probeDockerd scans dockerd.
func scanPath(path string, needles ...[]byte) ([]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return scanFile(f, f, needles...)
}
