//go:build linux

package probecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// elf writes an executable that starts as an ELF file does (it is never run: the runner is
// the test's).
func elf(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("\x7fELF"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// runtimeDir is a private runtime directory, as pam_systemd makes it.
func runtimeDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

// counter is a runner that answers name+args and counts its runs.
type counter struct{ n atomic.Int32 }

func (c *counter) run(_ context.Context, name string, args ...string) ([]byte, error) {
	c.n.Add(1)
	return []byte(answer(name, args...)), nil
}

func answer(name string, args ...string) string { return name + " " + strings.Join(args, " ") + "\n" }

// fresh is the cache as a new process of the user sees it.
func fresh(rt string, c *counter) Run {
	return Wrap(func() string { return filepath.Join(rt, "rootlessd") }, c.run)
}

func ask(t *testing.T, r Run, name string, args ...string) {
	t.Helper()
	out, err := r(t.Context(), name, args...)
	if err != nil || string(out) != answer(name, args...) {
		t.Fatalf("%s %v = %q, %v; want %q", name, args, out, err, answer(name, args...))
	}
}

func TestHitAcrossProcesses(t *testing.T) {
	rt, bin := runtimeDir(t), t.TempDir()
	p := elf(t, bin, "dockerd", "v1")
	var c counter
	ask(t, fresh(rt, &c), p, "--version")
	ask(t, fresh(rt, &c), p, "--version")
	ask(t, fresh(rt, &c), p, "--version")
	if n := c.n.Load(); n != 1 {
		t.Errorf("ran %d times; want once", n)
	}
	ask(t, fresh(rt, &c), p, "--help") // other arguments: another question
	if n := c.n.Load(); n != 2 {
		t.Errorf("ran %d times; want twice", n)
	}
	dir := filepath.Join(rt, "rootlessd")
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, FileName): 0o600} {
		if fi, err := os.Lstat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want mode %v", p, fi.Mode(), err, want)
		}
	}
}

func TestMissWhenTheProgramChanges(t *testing.T) {
	rt, bin := runtimeDir(t), t.TempDir()
	p := elf(t, bin, "rootlesskit", "v1")
	var c counter
	want := int32(1)
	ask(t, fresh(rt, &c), p, "--version")
	change := map[string]func(){
		"mtime": func() {
			if err := os.Chtimes(p, time.Time{}, time.Now().Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
		},
		"ctime": func() { // chmod changes the change time only
			time.Sleep(10 * time.Millisecond) // a coarse clock must tick; not a measurement
			if err := os.Chmod(p, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		"size": func() {
			fi, _ := os.Stat(p)
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("more")
			f.Close()
			os.Chtimes(p, time.Time{}, fi.ModTime()) // same mtime: only the size tells
		},
		"inode": func() { // an upgrade: a new file renamed over the old, same size and times
			fi, _ := os.Stat(p)
			b, _ := os.ReadFile(p)
			n := filepath.Join(bin, "new")
			if err := os.WriteFile(n, b, 0o755); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(n, time.Time{}, fi.ModTime())
			if err := os.Rename(n, p); err != nil {
				t.Fatal(err)
			}
		},
	}
	for _, what := range []string{"mtime", "ctime", "size", "inode"} {
		change[what]()
		ask(t, fresh(rt, &c), p, "--version")
		want++
		if n := c.n.Load(); n != want {
			t.Errorf("after a change of %s: ran %d times; want %d", what, n, want)
		}
		ask(t, fresh(rt, &c), p, "--version") // and the new version's answer is kept
		if n := c.n.Load(); n != want {
			t.Errorf("after a change of %s, the new answer was not kept: ran %d times; want %d", what, n, want)
		}
	}
}

func TestMissAfterReboot(t *testing.T) {
	rt, bin := runtimeDir(t), t.TempDir()
	p := elf(t, bin, "slirp4netns", "")
	var c counter
	ask(t, fresh(rt, &c), p, "--help")
	old := bootID()
	boot = old + "-next"
	t.Cleanup(func() { boot = old })
	ask(t, fresh(rt, &c), p, "--help")
	if n := c.n.Load(); n != 2 {
		t.Errorf("ran %d times; want a run per boot", n)
	}
}

func TestOnlyELFProgramsAndSuccesses(t *testing.T) {
	rt, bin := runtimeDir(t), t.TempDir()
	script := filepath.Join(bin, "pasta")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec /usr/bin/pasta \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var c counter
	ask(t, fresh(rt, &c), script, "--version")
	ask(t, fresh(rt, &c), script, "--version")
	if n := c.n.Load(); n != 2 {
		t.Errorf("a script's answer was cached: ran %d times; want 2", n)
	}
	p := elf(t, bin, "dockerd", "")
	var runs atomic.Int32
	failing := func(context.Context, string, ...string) ([]byte, error) {
		runs.Add(1)
		return []byte("boom"), errors.New("exit status 1")
	}
	dir := func() string { return filepath.Join(rt, "rootlessd") }
	for range 2 {
		if out, err := Wrap(dir, failing)(t.Context(), p, "--version"); err == nil || string(out) != "boom" {
			t.Errorf("failure = %q, %v; want it passed on", out, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var c2 counter
	fresh(rt, &c2)(ctx, p, "--version") // the runner answers, but ctx was done: no evidence
	ask(t, fresh(rt, &c2), p, "--version")
	if runs.Load() != 2 || c2.n.Load() != 2 {
		t.Errorf("failures or cancelled runs were cached: %d, %d runs; want 2, 2", runs.Load(), c2.n.Load())
	}
	if got := Wrap(func() string { return "" }, c.run); got == nil {
		t.Fatal("no runner")
	}
}

func TestCorruptFileIsIgnoredAndRewritten(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":     "\x00\x01not json",
		"truncated":   `{"version":1,"entries":[{"key":"`,
		"old version": `{"version":0,"entries":[]}`,
		"bad key":     `{"version":1,"entries":[{"key":"x","out":"aGk="}]}`,
		"too large":   `{"version":1,"entries":[],"pad":"` + strings.Repeat("x", MaxFile) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			rt, bin := runtimeDir(t), t.TempDir()
			p := elf(t, bin, "dockerd", "")
			dir := filepath.Join(rt, "rootlessd")
			os.Mkdir(dir, 0o700)
			if err := os.WriteFile(filepath.Join(dir, FileName), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var c counter
			ask(t, fresh(rt, &c), p, "--version")
			ask(t, fresh(rt, &c), p, "--version")
			if n := c.n.Load(); n != 1 {
				t.Errorf("ran %d times; want once, then the rewritten cache", n)
			}
		})
	}
}

func TestUnsafeCacheIsNotTrusted(t *testing.T) {
	// seed makes a cache that answers p --version with a forged answer.
	seed := func(t *testing.T, dir, p string) []byte {
		t.Helper()
		key, ok := keyOf(p, []string{"--version"})
		if !ok {
			t.Fatal("no key")
		}
		b, _ := json.Marshal(file{Version: version, Entries: []entry{{Key: key, Out: []byte("forged")}}})
		return b
	}
	cases := map[string]func(t *testing.T, rt, p string){
		"group-writable file": func(t *testing.T, rt, p string) {
			d := filepath.Join(rt, "rootlessd")
			os.Mkdir(d, 0o700)
			f := filepath.Join(d, FileName)
			os.WriteFile(f, seed(t, d, p), 0o600)
			os.Chmod(f, 0o620)
		},
		"other-writable file": func(t *testing.T, rt, p string) {
			d := filepath.Join(rt, "rootlessd")
			os.Mkdir(d, 0o700)
			f := filepath.Join(d, FileName)
			os.WriteFile(f, seed(t, d, p), 0o600)
			os.Chmod(f, 0o602)
		},
		"symlinked file": func(t *testing.T, rt, p string) {
			d := filepath.Join(rt, "rootlessd")
			os.Mkdir(d, 0o700)
			elsewhere := filepath.Join(t.TempDir(), "cache")
			os.WriteFile(elsewhere, seed(t, d, p), 0o600)
			os.Symlink(elsewhere, filepath.Join(d, FileName))
		},
		"group-writable directory": func(t *testing.T, rt, p string) {
			d := filepath.Join(rt, "rootlessd")
			os.Mkdir(d, 0o700)
			os.WriteFile(filepath.Join(d, FileName), seed(t, d, p), 0o600)
			os.Chmod(d, 0o770)
		},
		"symlinked directory": func(t *testing.T, rt, p string) {
			elsewhere := filepath.Join(t.TempDir(), "d")
			os.Mkdir(elsewhere, 0o700)
			os.WriteFile(filepath.Join(elsewhere, FileName), seed(t, elsewhere, p), 0o600)
			os.Symlink(elsewhere, filepath.Join(rt, "rootlessd"))
		},
		"world-writable runtime directory": func(t *testing.T, rt, p string) {
			d := filepath.Join(rt, "rootlessd")
			os.Mkdir(d, 0o700)
			os.WriteFile(filepath.Join(d, FileName), seed(t, d, p), 0o600)
			os.Chmod(rt, 0o777)
		},
	}
	if os.Geteuid() == 0 {
		cases["another user's file"] = func(t *testing.T, rt, p string) {
			d := filepath.Join(rt, "rootlessd")
			os.Mkdir(d, 0o700)
			f := filepath.Join(d, FileName)
			os.WriteFile(f, seed(t, d, p), 0o600)
			if err := os.Chown(f, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
		cases["another user's directory"] = func(t *testing.T, rt, p string) {
			d := filepath.Join(rt, "rootlessd")
			os.Mkdir(d, 0o700)
			os.WriteFile(filepath.Join(d, FileName), seed(t, d, p), 0o600)
			if err := os.Chown(d, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			rt, bin := runtimeDir(t), t.TempDir()
			p := elf(t, bin, "dockerd", "")
			setup(t, rt, p)
			var c counter
			ask(t, fresh(rt, &c), p, "--version") // not "forged"
			if n := c.n.Load(); n != 1 {
				t.Errorf("ran %d times; want once", n)
			}
		})
	}
	// The symbolic link is replaced by the user's own file; what it pointed to is untouched.
	rt, bin := runtimeDir(t), t.TempDir()
	p := elf(t, bin, "dockerd", "")
	d := filepath.Join(rt, "rootlessd")
	os.Mkdir(d, 0o700)
	elsewhere := filepath.Join(t.TempDir(), "cache")
	os.WriteFile(elsewhere, []byte("theirs"), 0o600)
	os.Symlink(elsewhere, filepath.Join(d, FileName))
	var c counter
	ask(t, fresh(rt, &c), p, "--version")
	if b, _ := os.ReadFile(elsewhere); string(b) != "theirs" {
		t.Errorf("the cache wrote through a symbolic link: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(d, FileName)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("cache file %v, %v; want a regular file", fi, err)
	}
	// An untrusted directory is not written in either.
	rt = runtimeDir(t)
	os.Chmod(rt, 0o777)
	ask(t, fresh(rt, &c), p, "--version")
	if _, err := os.Lstat(filepath.Join(rt, "rootlessd")); !os.IsNotExist(err) {
		t.Errorf("a cache was made in a world-writable runtime directory: %v", err)
	}
}

func TestBoundedSize(t *testing.T) {
	rt, bin := runtimeDir(t), t.TempDir()
	p := elf(t, bin, "dockerd", "")
	var c counter
	for i := range MaxEntries + 10 {
		ask(t, fresh(rt, &c), p, "--arg="+strconv.Itoa(i))
	}
	f := load(filepath.Join(rt, "rootlessd"))
	if len(f.Entries) != MaxEntries {
		t.Errorf("%d entries; want %d", len(f.Entries), MaxEntries)
	}
	// The newest are kept: the last question hits, the first misses.
	n := c.n.Load()
	ask(t, fresh(rt, &c), p, "--arg="+strconv.Itoa(MaxEntries+9))
	ask(t, fresh(rt, &c), p, "--arg=0")
	if got := c.n.Load() - n; got != 1 {
		t.Errorf("%d runs; want only the evicted oldest to run", got)
	}
	// Answers too long to keep, and many long answers: the file stays within MaxFile.
	long := func(_ context.Context, name string, args ...string) ([]byte, error) {
		return []byte(strings.Repeat(args[0], MaxOutput/len(args[0]))), nil
	}
	dir := func() string { return filepath.Join(rt, "rootlessd") }
	for i := range 40 {
		Wrap(dir, long)(t.Context(), p, fmt.Sprintf("%08d", i))
	}
	Wrap(dir, func(context.Context, string, ...string) ([]byte, error) { return make([]byte, MaxOutput+1), nil })(t.Context(), p, "huge")
	fi, err := os.Stat(filepath.Join(rt, "rootlessd", FileName))
	if err != nil || fi.Size() > MaxFile {
		t.Errorf("cache file %v, %v; want at most %d bytes", fi.Size(), err, MaxFile)
	}
	for _, e := range load(filepath.Join(rt, "rootlessd")).Entries {
		if len(e.Out) > MaxOutput {
			t.Errorf("an answer of %d bytes was kept", len(e.Out))
		}
	}
	if k, _ := keyOf(p, []string{"huge"}); func() bool {
		for _, e := range load(filepath.Join(rt, "rootlessd")).Entries {
			if e.Key == k {
				return true
			}
		}
		return false
	}() {
		t.Error("an answer longer than MaxOutput was kept")
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	rt, bin := runtimeDir(t), t.TempDir()
	p := elf(t, bin, "dockerd", "")
	var c counter
	r := fresh(rt, &c)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 8 {
				out, err := r(t.Context(), p, strconv.Itoa(i%4), strconv.Itoa(j))
				if err != nil || string(out) != answer(p, strconv.Itoa(i%4), strconv.Itoa(j)) {
					t.Errorf("answer %q, %v", out, err)
				}
			}
		})
	}
	wg.Wait()
	checkFile(t, rt, p)
}

// checkFile checks that the cache file is whole and that each answer it gives is right.
func checkFile(t *testing.T, rt, p string) {
	t.Helper()
	d := filepath.Join(rt, "rootlessd")
	b, err := os.ReadFile(filepath.Join(d, FileName))
	if err != nil {
		t.Fatal(err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil || f.Version != version || len(f.Entries) == 0 {
		t.Fatalf("cache file corrupt or empty: %v, version %d, %d entries", err, f.Version, len(f.Entries))
	}
	if ents, _ := os.ReadDir(d); len(ents) != 1 {
		t.Errorf("left in the cache directory: %v; want only %s", ents, FileName)
	}
	var c counter
	r := fresh(rt, &c)
	for i := range 4 {
		for j := range 8 {
			ask(t, r, p, strconv.Itoa(i), strconv.Itoa(j))
		}
	}
	if c.n.Load() == 32 {
		t.Error("no answer was kept")
	}
}

// TestConcurrentProcesses: processes of the user that fill the cache at once leave a whole
// file, whose every answer is right (the last writer wins).
func TestConcurrentProcesses(t *testing.T) {
	if rt := os.Getenv("PROBECACHE_TEST_RUNTIME"); rt != "" {
		var c counter
		r := fresh(rt, &c)
		i := os.Getenv("PROBECACHE_TEST_I")
		for j := range 8 {
			ask(t, r, os.Getenv("PROBECACHE_TEST_PROGRAM"), i, strconv.Itoa(j))
		}
		return
	}
	rt, bin := runtimeDir(t), t.TempDir()
	p := elf(t, bin, "dockerd", "")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for i := range 8 {
		cmd := exec.Command(exe, "-test.run=^TestConcurrentProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "PROBECACHE_TEST_RUNTIME="+rt, "PROBECACHE_TEST_PROGRAM="+p, "PROBECACHE_TEST_I="+strconv.Itoa(i%4))
		cmds = append(cmds, cmd)
	}
	outs := make([][]byte, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() { outs[i], errs[i] = cmd.CombinedOutput() })
	}
	wg.Wait()
	for i := range cmds {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	checkFile(t, rt, p)
}

func TestDir(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "")
	if d := Dir(); d != "" {
		t.Errorf("Dir() = %q without XDG_RUNTIME_DIR", d)
	}
	t.Setenv("XDG_RUNTIME_DIR", "run/user/1")
	if d := Dir(); d != "" {
		t.Errorf("Dir() = %q with a relative XDG_RUNTIME_DIR", d)
	}
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1")
	if d := Dir(); d != "/run/user/1/rootlessd-cache" {
		t.Errorf("Dir() = %q", d)
	}
}

// TestAnswersLastTheBoot: an answer stored under the caller's key is found by a fresh process
// (a new Answers on the same directory), not under another key, not after a reboot, and never
// without a runtime directory; it shares the file with Wrap's answers.
func TestAnswersLastTheBoot(t *testing.T) {
	rt, bin := runtimeDir(t), t.TempDir()
	dir := func() string { return filepath.Join(rt, "rootlessd") }
	NewAnswers(dir).Store("overlay\x00dev 00:2a", []byte("ok"))
	if out, ok := NewAnswers(dir).Load("overlay\x00dev 00:2a"); !ok || string(out) != "ok" {
		t.Errorf("a fresh process read %q, %v; want the stored answer", out, ok)
	}
	if _, ok := NewAnswers(dir).Load("overlay\x00dev 00:2b"); ok {
		t.Error("another key found the answer")
	}
	var c counter
	p := elf(t, bin, "dockerd", "v1")
	ask(t, fresh(rt, &c), p, "--version")
	if out, ok := NewAnswers(dir).Load("overlay\x00dev 00:2a"); !ok || string(out) != "ok" {
		t.Errorf("after a program's answer was kept, the stored answer reads %q, %v", out, ok)
	}
	if _, ok := NewAnswers(func() string { return "" }).Load("overlay\x00dev 00:2a"); ok {
		t.Error("an answer was found without a runtime directory")
	}
	NewAnswers(dir).Store("big", make([]byte, MaxOutput+1))
	if _, ok := NewAnswers(dir).Load("big"); ok {
		t.Error("an answer over MaxOutput was kept")
	}
	old := bootID()
	boot = old + "-next"
	t.Cleanup(func() { boot = old })
	if _, ok := NewAnswers(dir).Load("overlay\x00dev 00:2a"); ok {
		t.Error("the answer outlived the boot")
	}
}
