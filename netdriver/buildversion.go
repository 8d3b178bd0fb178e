package netdriver

import (
	"debug/buildinfo"
	"io"
	"strings"
)

// moduleVersion reads the version of the Go program at the absolute path p from its build
// information, when it was built by `go install MODULE/cmd/NAME@VERSION` from a module whose
// path starts with modulePrefix: the module's version, which is the release tag that its
// --version prints. A program built otherwise (a distribution's package records no module
// version) gives false, and its --version must be run. Reading it costs a few reads of the
// file; running a Go program costs its start, tens of milliseconds for rootlesskit 3.
func (h *Host) moduleVersion(p, modulePrefix string) (Version, bool) {
	if h == nil || h.FS == nil {
		return Version{}, false
	}
	n, err := fsName(p)
	if err != nil {
		return Version{}, false
	}
	f, err := h.FS.Open(n)
	if err != nil {
		return Version{}, false
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		return Version{}, false
	}
	bi, err := buildinfo.Read(ra)
	if err != nil || !strings.HasPrefix(bi.Main.Path, modulePrefix) || bi.Main.Replace != nil {
		return Version{}, false
	}
	v := strings.TrimPrefix(bi.Main.Version, "v")
	if v == "" || strings.ContainsAny(v, "-+") { // (devel), pseudo-versions, +dirty
		return Version{}, false
	}
	parsed, err := ParseVersion(v)
	if err != nil {
		return Version{}, false
	}
	return parsed, true
}
