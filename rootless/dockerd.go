package rootless

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// dockerdInfo is what Launch needs to know about the dockerd binary.
type dockerdInfo struct {
	Path    string
	Version string // as printed by dockerd --version, e.g. "20.10.24+dfsg1"
	// DetachNetNS: dockerd can run outside RootlessKit's network namespace (moby#47103).
	DetachNetNS bool
	// PortsViaAPI: dockerd publishes ports through RootlessKit's API itself (Docker >= 28);
	// older ones run rootlesskit-docker-proxy as their userland proxy.
	PortsViaAPI bool
}

// Symbols whose presence in the binary proves a feature, whatever the version string says
// (builds from source report "library-import" or a module version).
var (
	symDetachNetNS = []byte("rootless.DetachedNetNS")
	symPortsAPI    = []byte("rlkclient.NewPortDriverClient")
)

// probeDockerd runs dockerd --version and scans the binary for feature symbols.
func probeDockerd(ctx context.Context, path string) (dockerdInfo, error) {
	info := dockerdInfo{Path: path}
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return info, fmt.Errorf("%s --version: %w", path, err)
	}
	info.Version = parseDockerdVersion(string(out))
	found, err := scanFile(path, symDetachNetNS, symPortsAPI)
	if err != nil {
		return info, err
	}
	info.DetachNetNS, info.PortsViaAPI = found[0], found[1]
	return info, nil
}

// parseDockerdVersion extracts "20.10.24+dfsg1" from "Docker version 20.10.24+dfsg1, build 5d6db84".
func parseDockerdVersion(out string) string {
	s := strings.TrimSpace(out)
	s = strings.TrimPrefix(s, "Docker version ")
	s, _, _ = strings.Cut(s, ",")
	return strings.TrimSpace(s)
}

// scanFile reports which of the needles occur in the file, reading it once in chunks.
func scanFile(path string, needles ...[]byte) ([]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	longest := 0
	for _, n := range needles {
		longest = max(longest, len(n))
	}
	found := make([]bool, len(needles))
	buf := make([]byte, 1<<20+longest)
	carry := 0
	for {
		n, err := io.ReadFull(f, buf[carry:])
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
		carry = copy(buf, chunk[len(chunk)-longest:])
	}
}
