package cgroupdeleg

import (
	"io/fs"
	"path"
	"strings"
)

// globLibsystemd is fs.Glob(fsys, pattern) for the libsystemdGlobs, whose only wildcard
// directory is one level under lib (the multiarch directory, such as x86_64-linux-gnu). fs.Glob
// reads every directory under lib to find the ones with a systemd entry, over a thousand
// entries each on a Debian host: the slowest part of a host check. This looks the systemd entry
// up in each instead. The matches, and their order, are fs.Glob's.
func globLibsystemd(fsys fs.FS, pattern string) ([]string, error) {
	dir, file := path.Split(pattern)
	dir = strings.TrimSuffix(dir, "/")
	parent, sub, wild := strings.Cut(dir, "/*/")
	if !wild {
		return fs.Glob(fsys, pattern)
	}
	ents, err := fs.ReadDir(fsys, parent)
	if err != nil {
		return nil, nil // fs.Glob ignores I/O errors
	}
	var out []string
	for _, e := range ents {
		d := parent + "/" + e.Name() + "/" + sub
		if fi, err := fs.Stat(fsys, d); err != nil || !fi.IsDir() {
			continue
		}
		ms, err := fs.Glob(fsys, d+"/"+file)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}
