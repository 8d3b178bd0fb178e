// Package probecache keeps, across processes, the answers of programs that only describe
// themselves (dockerd --version, rootlesskit --version, slirp4netns --help): a fresh process
// that checks the host need not start them again while the programs stay the same files.
// Answers also keeps, for the rest of the boot, the successes of probes whose answer is the
// kernel's (an overlay mount or an iptables run in a fresh user namespace), under keys their
// caller makes of everything else they depend on.
//
// The answers live in one file of the user's runtime directory,
// $XDG_RUNTIME_DIR/rootlessd-cache/probes.json (directory 0700, file 0600, both the user's own),
// written atomically. An answer is keyed by the program's path and arguments, its size,
// modification and change times, device and inode, and the boot id: a replaced, upgraded or
// touched program misses, and so does every answer after a reboot. Only executable files in
// the ELF format are cached: a script's answer may come from whatever program it runs, which
// its own identity does not pin.
//
// The cache never fails its caller: a missing, corrupt, oversized or unreadable file is read
// as empty (and rewritten on the next miss); a directory or file another user could write (a
// symbolic link, another owner, group or other write permission) is not trusted, not read and
// not written through. Two processes that write at once each rename a whole file into place:
// the last one wins, and the other's new answers are asked again next time.
package probecache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/moby/sys/atomicwriter"
)

// Bounds of the file: what a probe prints is a few kilobytes (slirp4netns --help is the
// longest), and a host has a handful of such programs.
const (
	// MaxEntries is the most answers the file keeps; the oldest go first.
	MaxEntries = 64
	// MaxOutput is the longest answer kept.
	MaxOutput = 32 << 10
	// MaxFile is the largest file read or written.
	MaxFile = 512 << 10
)

// FileName is the cache's name in its directory.
const FileName = "probes.json"

// version of the file format; a file of another version is read as empty.
const version = 1

// Run is the shape of the program runners this package wraps.
type Run func(ctx context.Context, name string, args ...string) ([]byte, error)

// Dir returns the cache's directory: $XDG_RUNTIME_DIR/rootlessd-cache (beside the default state
// directory, $XDG_RUNTIME_DIR/rootlessd, which is the daemon's alone), or "" when the variable is
// not set to an absolute path.
func Dir() string {
	d := os.Getenv("XDG_RUNTIME_DIR")
	if !filepath.IsAbs(d) {
		return ""
	}
	return filepath.Join(d, "rootlessd-cache")
}

// Wrap returns run with its successful answers for ELF programs kept in the cache in the
// directory dir returns (asked at each call; "" means no cache). A cached answer is returned
// without running anything.
func Wrap(dir func() string, run Run) Run { return NewAnswers(dir).Wrap(run) }

// Local is this process's view of the cache in Dir: the real machine's program runs and probe
// answers share it, so that a process reads the file once.
var Local = NewAnswers(Dir)

// Wrap returns run with its successful answers for ELF programs kept beside a's (see the
// package function Wrap).
func (a *Answers) Wrap(run Run) Run {
	c, dir := &a.c, a.dir
	return func(ctx context.Context, name string, args ...string) ([]byte, error) {
		d := dir()
		if d == "" {
			return run(ctx, name, args...)
		}
		key, ok := keyOf(name, args)
		if !ok {
			return run(ctx, name, args...)
		}
		if out, ok := c.get(d, key); ok {
			return out, nil
		}
		out, err := run(ctx, name, args...)
		if err != nil || ctx.Err() != nil || len(out) > MaxOutput {
			return out, err
		}
		// The program must still be the one that answered: one replaced while it ran would
		// leave the new program's key with the old one's answer, or the reverse.
		if again, ok := keyOf(name, args); ok && again == key {
			c.put(d, key, out)
		}
		return out, nil
	}
}

// Answers keeps answers to questions that the caller names itself, for the rest of the boot:
// outcomes that depend on the kernel's state rather than on one program file (an overlay
// mount or an iptables run inside a fresh user namespace). They share the file, its bounds and
// its safety rules with Wrap's answers. Keep only successes: a failure is what a user fixes,
// and must be asked again.
type Answers struct {
	dir func() string
	c   cache
}

// NewAnswers returns the answers kept in the directory dir returns (asked at each call; ""
// means none are kept).
func NewAnswers(dir func() string) *Answers { return &Answers{dir: dir} }

// Load returns the answer stored under key during this boot.
func (a *Answers) Load(key string) ([]byte, bool) {
	d := a.dir()
	if d == "" {
		return nil, false
	}
	return a.c.get(d, answerKey(key))
}

// Store keeps out as the answer to key for the rest of this boot. key must name everything
// the answer depends on besides the boot (the programs' identities, the kernel settings).
func (a *Answers) Store(key string, out []byte) {
	d := a.dir()
	if d == "" || len(out) > MaxOutput {
		return
	}
	a.c.put(d, answerKey(key), out)
}

func answerKey(key string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "answer\x00%s\x00%s", key, bootID()))
	return hex.EncodeToString(sum[:])
}

// keyOf identifies a question to the program at name: its identity (see the package doc),
// the boot id and args, hashed. ok is false for a program that is not cached: not an ELF
// executable, or its identity cannot be read.
func keyOf(name string, args []string) (string, bool) {
	id, ok := identity(name)
	if !ok {
		return "", false
	}
	f, err := os.Open(name)
	if err != nil {
		return "", false
	}
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	f.Close()
	if err != nil || string(magic[:]) != "\x7fELF" {
		return "", false
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%q\x00%s\x00%s", name, args, id, bootID()))
	return hex.EncodeToString(sum[:]), true
}

var (
	bootOnce sync.Once
	boot     string
)

// bootID is the kernel's boot id, read once per process.
func bootID() string {
	bootOnce.Do(func() {
		b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
		boot = string(bytes.TrimSpace(b))
	})
	return boot
}

// file is the cache file's content.
type file struct {
	Version int     `json:"version"`
	Entries []entry `json:"entries"` // oldest first
}

type entry struct {
	Key string `json:"key"`
	Out []byte `json:"out"`
}

// cache is one process's view of the file: read once per directory, merged with the file's
// latest content on each write.
type cache struct {
	mu   sync.Mutex
	dir  string
	seen map[string][]byte
}

func (c *cache) get(dir, key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != dir || c.seen == nil {
		c.dir, c.seen = dir, map[string][]byte{}
		for _, e := range load(dir).Entries {
			c.seen[e.Key] = e.Out
		}
	}
	out, ok := c.seen[key]
	return slices.Clone(out), ok
}

func (c *cache) put(dir, key string, out []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir == dir && c.seen != nil {
		c.seen[key] = slices.Clone(out)
	}
	store(dir, key, out)
}

// load reads the file in dir; anything wrong with it reads as an empty cache.
func load(dir string) file {
	if !safeDir(dir, false) {
		return file{}
	}
	b, ok := readSafe(filepath.Join(dir, FileName))
	if !ok {
		return file{}
	}
	var f file
	if json.Unmarshal(b, &f) != nil || f.Version != version {
		return file{}
	}
	f.Entries = slices.DeleteFunc(f.Entries, func(e entry) bool { return len(e.Key) != 2*sha256.Size || len(e.Out) > MaxOutput })
	return f
}

// store adds key's answer to the file in dir (creating the directory), keeping the newest
// MaxEntries answers within MaxFile bytes. It fails silently.
func store(dir, key string, out []byte) {
	if !safeDir(dir, true) {
		return
	}
	f := load(dir)
	f.Version = version
	f.Entries = slices.DeleteFunc(f.Entries, func(e entry) bool { return e.Key == key })
	f.Entries = append(f.Entries, entry{Key: key, Out: out})
	var b []byte
	for {
		if len(f.Entries) > MaxEntries {
			f.Entries = f.Entries[len(f.Entries)-MaxEntries:]
		}
		var err error
		if b, err = json.Marshal(f); err != nil {
			return
		}
		if len(b) <= MaxFile || len(f.Entries) <= 1 {
			break
		}
		f.Entries = f.Entries[1:]
	}
	if len(b) > MaxFile {
		return
	}
	p := filepath.Join(dir, FileName)
	if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		// A symbolic link (or anything else) in our own directory: never write through it.
		if os.Remove(p) != nil {
			return
		}
	}
	_ = atomicwriter.WriteFile(p, b, 0o600)
}
