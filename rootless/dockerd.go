package rootless

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rootlessd/rootlessd/netdriver"
)

// lookPath finds name in dirs, then in $PATH (the given PATH value).
func lookPath(name string, dirs []string, pathEnv string) (string, error) {
	for _, d := range append(dirs, filepath.SplitList(pathEnv)...) {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}

// Messages whose presence in the binary proves a feature, whatever the version string says
// (builds from source report "library-import" or a Go module version). They are string
// literals of the code that implements the feature, so they survive stripping and inlining,
// unlike function names.
var (
	symDetachNetNS = []byte("failed to enter detached network namespace")    // moby#47103
	symPortsAPI    = []byte("probably RootlessKit binary is too old (needs") // rlkclient, Docker 28
)

// probeDockerd learns dockerd's version and features. The version comes from the binary's Go
// build information (a few milliseconds), else from dockerd --version (a process start). A
// Docker release version decides the features; other versions (builds from source report a Go
// module version or "library-import") are settled by scanning the binary for the symbols. The
// answer is cached by path, size, modification time and inode on hosts that have a cache, in
// the process and for the rest of the boot.
func probeDockerd(ctx context.Context, h *host, path string) (Dockerd, error) {
	name := strings.TrimPrefix(filepath.Clean(path), "/")
	fi, err := fs.Stat(h.fs, name)
	if err != nil {
		return Dockerd{}, err
	}
	// One key for both caches: the path and the file's version (size, inode, times).
	key := "dockerd\x00" + path + "\x00" + statKey(fi)
	if h.dockerdCache != nil {
		if v, ok := h.dockerdCache.Load(key); ok {
			return v.(Dockerd), nil
		}
	}
	// The answer also lasts the boot, across processes (h.bootAnswers): a dockerd built from
	// source is scanned whole for its features, which costs a fresh process about 8 ms.
	if h.bootAnswers != nil {
		var info Dockerd
		if b, ok := h.bootAnswers.Load(key); ok && json.Unmarshal(b, &info) == nil && info.Path == path {
			if h.dockerdCache != nil {
				h.dockerdCache.Store(key, info)
			}
			return info, nil
		}
	}
	info, err := readDockerd(ctx, h, path, name)
	if err == nil && h.dockerdCache != nil {
		h.dockerdCache.Store(key, info)
	}
	if err == nil && h.bootAnswers != nil {
		if b, jerr := json.Marshal(info); jerr == nil {
			h.bootAnswers.Store(key, b)
		}
	}
	return info, err
}

func readDockerd(ctx context.Context, h *host, path, name string) (Dockerd, error) {
	info := Dockerd{Path: path}
	f, err := h.fs.Open(name)
	if err != nil {
		return info, err
	}
	defer f.Close()
	ra, _ := f.(io.ReaderAt)
	if ra != nil {
		if bi, err := buildinfo.Read(ra); err == nil {
			info.Version = ldflagsVersion(bi)
		}
	}
	if info.Version == "" {
		out, err := h.net.Output(ctx, path, "--version")
		if err != nil {
			return info, fmt.Errorf("%s --version: %w", path, err)
		}
		info.Version = parseDockerdVersion(string(out))
	}
	if major, minor, ok := dockerRelease(info.Version); ok {
		info.PortsViaAPI = major >= 28
		info.DetachNetNS = major > 29 || major == 29 && minor >= 5
		info.Nftables = major >= 29
		return info, nil
	}
	found, err := scanFile(f, ra, symDetachNetNS, symPortsAPI, symNftables)
	if err != nil {
		return info, err
	}
	info.DetachNetNS, info.PortsViaAPI, info.Nftables = found[0], found[1], found[2]
	return info, nil
}

// rootlessKitBuildVersion reads the version of a rootlesskit built with go install from a
// release tag (go install .../cmd/rootlesskit@v3.3.0) from its Go build information, which
// spares a process start; false for other builds (Debian's, from a checkout), which are asked.
func rootlessKitBuildVersion(h *host, path string) (netdriver.Version, bool) {
	f, err := h.fs.Open(strings.TrimPrefix(filepath.Clean(path), "/"))
	if err != nil {
		return netdriver.Version{}, false
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		return netdriver.Version{}, false
	}
	bi, err := buildinfo.Read(ra)
	if err != nil || !strings.HasPrefix(bi.Main.Path, "github.com/rootless-containers/rootlesskit") {
		return netdriver.Version{}, false
	}
	v := bi.Main.Version
	if !strings.HasPrefix(v, "v") || strings.ContainsAny(v, "-+") { // (devel), pseudo-versions, +dirty
		return netdriver.Version{}, false
	}
	ver, err := netdriver.ParseVersion(v[1:])
	return ver, err == nil
}

// ldflagsVersion is the version linked into dockerversion.Version, as recorded in the build
// settings ("-X github.com/docker/docker/dockerversion.Version=20.10.24+dfsg1").
func ldflagsVersion(bi *buildinfo.BuildInfo) string {
	for _, s := range bi.Settings {
		if s.Key != "-ldflags" {
			continue
		}
		_, rest, ok := strings.Cut(s.Value, "dockerversion.Version=")
		if !ok {
			return ""
		}
		if i := strings.IndexAny(rest, " \t\"'"); i >= 0 {
			rest = rest[:i]
		}
		return rest
	}
	return ""
}

// dockerRelease parses a Docker Engine release version (year-based: 20.10.24+dfsg1, 29.7.2).
func dockerRelease(v string) (major, minor int, ok bool) {
	f := strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '-' || r == '+' || r == '~' })
	if len(f) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(f[0])
	minor, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || major < 17 { // Docker CE versions start at 17.03
		return 0, 0, false
	}
	return major, minor, true
}

// parseDockerdVersion extracts "20.10.24+dfsg1" from "Docker version 20.10.24+dfsg1, build 5d6db84".
func parseDockerdVersion(out string) string {
	s := strings.TrimSpace(out)
	s = strings.TrimPrefix(s, "Docker version ")
	s, _, _ = strings.Cut(s, ",")
	return strings.TrimSpace(s)
}

// scanHostFile is scanFile on the host's file at path.
func scanHostFile(h *host, path string, needles ...[]byte) ([]bool, error) {
	f, err := h.fs.Open(strings.TrimPrefix(filepath.Clean(path), "/"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ra, _ := f.(io.ReaderAt)
	return scanFile(f, ra, needles...)
}

// scanFile reports which of the needles occur in the executable f. Go keeps string literals in
// .rodata, a tenth of dockerd; only that is read when the ELF has one (ra, f as a ReaderAt).
func scanFile(f io.Reader, ra io.ReaderAt, needles ...[]byte) ([]bool, error) {
	r := f
	if ra != nil {
		if ef, err := elf.NewFile(ra); err == nil {
			if sec := ef.Section(".rodata"); sec != nil && sec.Type != elf.SHT_NOBITS {
				r = sec.Open()
			} else if s, ok := f.(io.Seeker); ok {
				_, _ = s.Seek(0, io.SeekStart)
			}
		} else if s, ok := f.(io.Seeker); ok {
			_, _ = s.Seek(0, io.SeekStart)
		}
	}
	return scan(r, needles...)
}

// scan reports which of the needles occur in r, reading it once in chunks.
func scan(r io.Reader, needles ...[]byte) ([]bool, error) {
	longest := 0
	for _, n := range needles {
		longest = max(longest, len(n))
	}
	found := make([]bool, len(needles))
	buf := make([]byte, 1<<20+longest)
	carry := 0
	for {
		n, err := io.ReadFull(r, buf[carry:])
		chunk := buf[:carry+n]
		for i, nd := range needles {
			if !found[i] && bytes.Contains(chunk, nd) {
				found[i] = true
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return found, nil
		}
		if err != nil {
			return nil, err
		}
		carry = copy(buf, chunk[len(chunk)-min(longest, len(chunk)):])
	}
}
