package cgroupdeleg

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path"
	"strconv"
	"strings"
	"syscall"
)

// Sys is the read-only view of a host that [Detect] and [DetectMode]
// inspect. Nothing in this package writes through it.
//
// Use [Host] for the machine the program runs on and [Fixture] for a
// recorded tree in tests. A Sys may also be built by hand; nil function
// fields fall back to the defaults documented on each field.
type Sys struct {
	// FS is the host's root directory. Names are unrooted and
	// slash-separated, as fs.FS requires: "sys/fs/cgroup/cgroup.controllers".
	FS fs.FS

	// Statfs returns the filesystem type (statfs(2) f_type) of name.
	// Default: an error wrapping errors.ErrUnsupported, so the mode is
	// Unavailable.
	Statfs func(name string) (int64, error)

	// Owner returns the uid that owns name. Default: the Uid of the
	// *syscall.Stat_t in fs.Stat's FileInfo.Sys() (Unix only).
	Owner func(name string) (int, error)

	// Getenv returns a variable of the environment dockerd will run in; only
	// XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS are read.
	// Default: an empty environment.
	Getenv func(key string) string

	// Username returns the login name of uid, used for the linger file and in
	// remedies. Default: look uid up in etc/passwd of FS.
	Username func(uid int) (string, error)
}

// Host returns a Sys for the machine this program runs on: os.DirFS("/"),
// statfs(2), the process environment, and os/user lookups. It only reads.
func Host() *Sys {
	return &Sys{
		FS:     os.DirFS("/"),
		Statfs: hostStatfs,
		Getenv: os.Getenv,
		Username: func(uid int) (string, error) {
			u, err := user.LookupId(strconv.Itoa(uid))
			if err != nil {
				return "", err
			}
			return u.Username, nil
		},
	}
}

func (s *Sys) statfs(name string) (int64, error) {
	if s.Statfs == nil {
		return 0, fmt.Errorf("statfs %s: %w", name, errors.ErrUnsupported)
	}
	return s.Statfs(name)
}

func (s *Sys) owner(name string) (int, error) {
	if s.Owner != nil {
		return s.Owner(name)
	}
	fi, err := fs.Stat(s.FS, name)
	if err != nil {
		return 0, err
	}
	return statOwner(fi)
}

func (s *Sys) getenv(key string) string {
	if s.Getenv == nil {
		return ""
	}
	return s.Getenv(key)
}

func (s *Sys) username(uid int) (string, error) {
	if s.Username != nil {
		return s.Username(uid)
	}
	f, err := s.FS.Open("etc/passwd")
	if err != nil {
		return "", err
	}
	defer f.Close()
	name, ok := passwdName(f, uid)
	if !ok {
		return "", fmt.Errorf("uid %d: %w in /etc/passwd", uid, fs.ErrNotExist)
	}
	return name, nil
}

// Fixture returns a Sys for a recorded host tree, for tests. fsys holds
// the host's files under root/ and a manifest, fixture.txt, for what a tree
// of plain files cannot record. Each manifest line is one of:
//
//	statfs PATH TYPE   # PATH (and what lies below it, unless listed) has filesystem TYPE:
//	                   # cgroup2, cgroup, tmpfs, sysfs, ext4, a number (0x63677270),
//	                   # or an errno name (EACCES, ENOENT) that statfs fails with
//	owner UID PATH     # PATH and everything below it is owned by UID
//	env KEY=VALUE      # a variable of the environment dockerd will run in
//
// Blank lines and lines starting with # are ignored. The entry with the
// longest matching PATH wins; unlisted files are owned by uid 0 and lie on
// ext4. Statfs and Owner fail with fs.ErrNotExist for names missing from
// root/, as the real calls would.
//
// This package's testdata/hosts holds fixtures for common hosts.
func Fixture(fsys fs.FS) (*Sys, error) {
	data, err := fs.ReadFile(fsys, "fixture.txt")
	if err != nil {
		return nil, fmt.Errorf("cgroupdeleg: read fixture manifest: %w", err)
	}
	m, err := parseManifest(data)
	if err != nil {
		return nil, err
	}
	root, err := fs.Sub(fsys, "root")
	if err != nil {
		return nil, fmt.Errorf("cgroupdeleg: fixture: %w", err)
	}
	s := &Sys{FS: root}
	s.Statfs = func(name string) (int64, error) {
		if !fs.ValidPath(name) {
			return 0, &fs.PathError{Op: "statfs", Path: name, Err: fs.ErrInvalid}
		}
		if _, err := fs.Stat(root, name); err != nil {
			return 0, &fs.PathError{Op: "statfs", Path: "/" + name, Err: unwrapPath(err)}
		}
		e, ok := longest(m.statfs, name)
		if !ok {
			return 0xef53, nil
		}
		if e.err != nil {
			return 0, &fs.PathError{Op: "statfs", Path: "/" + name, Err: e.err}
		}
		return e.magic, nil
	}
	s.Owner = func(name string) (int, error) {
		if !fs.ValidPath(name) {
			return 0, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
		}
		if _, err := fs.Stat(root, name); err != nil {
			return 0, err
		}
		if e, ok := longest(m.owner, name); ok {
			return e.uid, nil
		}
		return 0, nil
	}
	s.Getenv = func(key string) string { return m.env[key] }
	return s, nil
}

type manifestEntry struct {
	path  string
	magic int64
	err   error
	uid   int
}

type manifest struct {
	statfs []manifestEntry
	owner  []manifestEntry
	env    map[string]string
}

var errnoNames = map[string]syscall.Errno{
	"EACCES":  syscall.EACCES,
	"EPERM":   syscall.EPERM,
	"ENOENT":  syscall.ENOENT,
	"ENOSYS":  syscall.ENOSYS,
	"EINVAL":  syscall.EINVAL,
	"ENOTDIR": syscall.ENOTDIR,
}

func parseManifest(data []byte) (*manifest, error) {
	m := &manifest{env: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("cgroupdeleg: fixture.txt:%d: %s: %q (want \"statfs PATH TYPE\", \"owner UID PATH\" or \"env KEY=VALUE\")", n, why, line)
		}
		kw, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch kw {
		case "statfs":
			f := strings.Fields(rest)
			if len(f) != 2 {
				return nil, bad("need a path and a type")
			}
			p, ok := cleanFixturePath(f[0])
			if !ok {
				return nil, bad("invalid path")
			}
			e := manifestEntry{path: p}
			if errno, ok := errnoNames[f[1]]; ok {
				e.err = errno
			} else if mg, ok := magicByName(f[1]); ok {
				e.magic = mg
			} else {
				return nil, bad("unknown filesystem type")
			}
			m.statfs = append(m.statfs, e)
		case "owner":
			f := strings.Fields(rest)
			if len(f) != 2 {
				return nil, bad("need a uid and a path")
			}
			uid, err := strconv.ParseUint(f[0], 10, 31)
			if err != nil {
				return nil, bad("invalid uid")
			}
			p, ok := cleanFixturePath(f[1])
			if !ok {
				return nil, bad("invalid path")
			}
			m.owner = append(m.owner, manifestEntry{path: p, uid: int(uid)})
		case "env":
			k, v, ok := strings.Cut(rest, "=")
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				return nil, bad("need KEY=VALUE")
			}
			m.env[k] = v
		default:
			return nil, bad("unknown keyword")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroupdeleg: fixture.txt: %w", err)
	}
	return m, nil
}

// cleanFixturePath accepts "sys/fs/cgroup", "/sys/fs/cgroup/" and "/" (".").
func cleanFixturePath(p string) (string, bool) {
	p = strings.Trim(p, "/")
	if p == "" {
		return ".", true
	}
	return p, fs.ValidPath(p)
}

func magicByName(s string) (int64, bool) {
	for m, n := range magicNames {
		if n == s {
			return m, true
		}
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// longest returns the entry whose path is name or its closest ancestor.
// Later entries win ties.
func longest(es []manifestEntry, name string) (manifestEntry, bool) {
	best, bestLen, found := manifestEntry{}, -1, false
	for _, e := range es {
		l := -1
		switch {
		case e.path == ".":
			l = 0
		case e.path == name, strings.HasPrefix(name, e.path+"/"):
			l = len(e.path)
		}
		if l >= 0 && l >= bestLen {
			best, bestLen, found = e, l, true
		}
	}
	return best, found
}

// passwdName returns the login name of uid from an /etc/passwd stream.
// Malformed lines are skipped.
func passwdName(f io.Reader, uid int) (string, bool) {
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	want := strconv.Itoa(uid)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) < 3 || fields[0] == "" || fields[2] != want {
			continue
		}
		return fields[0], true
	}
	return "", false
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// exists reports whether name exists in s.FS.
func (s *Sys) exists(name string) bool {
	_, err := fs.Stat(s.FS, name)
	return err == nil
}

// isDir reports whether name is a directory in s.FS.
func (s *Sys) isDir(name string) bool {
	fi, err := fs.Stat(s.FS, name)
	return err == nil && fi.IsDir()
}

// rel converts an absolute host path to an fs.FS name.
func rel(abs string) string {
	p := strings.TrimPrefix(path.Clean("/"+abs), "/")
	if p == "" {
		return "."
	}
	return p
}
