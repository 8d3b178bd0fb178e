package rootless

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder is a slog.Handler that keeps every record, for checking what the sink emits.
type recorder struct {
	mu      sync.Mutex
	level   slog.Level
	records []record
}

type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	attrs := map[string]string{}
	rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	r.mu.Lock()
	r.records = append(r.records, record{rec.Level, rec.Message, attrs})
	r.mu.Unlock()
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { panic("not used by logSink") }
func (r *recorder) WithGroup(string) slog.Handler      { panic("not used by logSink") }

func newRecorder(level slog.Level) (*recorder, *slog.Logger) {
	r := &recorder{level: level}
	return r, slog.New(r)
}

// readLines reads a fixture from testdata/logs.
func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "logs", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestParseDaemonLine(t *testing.T) {
	dockerd := readLines(t, "dockerd-20.10.24-pidfile.log")
	rk := readLines(t, "rootlesskit-1.1.0-nobody.log")
	rkDebug := readLines(t, "rootlesskit-1.1.0-debug-root.log")
	engine := readLines(t, "engine-logrus-1.10.2.log")
	slirp := readLines(t, "slirp4netns-1.2.0.log")
	tests := []struct {
		name  string
		line  string
		level slog.Level
		msg   string
		attrs map[string]string
	}{
		{"dockerd info", dockerd[0], slog.LevelInfo, "Starting up", map[string]string{"component": "dockerd"}},
		{"dockerd warning", dockerd[1], slog.LevelWarn, "Running in rootless mode. This mode has feature limitations.",
			map[string]string{"component": "dockerd"}},
		{"dockerd start failure", dockerd[3], slog.LevelError, dockerd[3], map[string]string{"component": "dockerd"}},
		{"rootlesskit 1.1 logrus warning, escaped quotes", rk[0], slog.LevelWarn,
			`The host root filesystem is mounted as "". Setting child propagation to "rslave" is not supported.`,
			map[string]string{"component": "dockerd"}}, // rootlesskit 1.1 has no prefix: indistinguishable from dockerd
		{"rootlesskit parent error", rk[1], slog.LevelError,
			`error: failed to setup UID/GID map: failed to compute uid/gid map: No subuid ranges found for user 65534 ("nobody")`,
			map[string]string{"component": "rootlesskit", "role": "parent"}},
		{"rootlesskit error attribute with escapes", rkDebug[5], slog.LevelDebug, `subid-source:dynamic: failed to get subuids by the username "root"`,
			map[string]string{"component": "dockerd",
				"error": "failed to exec [/usr/bin/getsubids root]: exit status 1 (stdout=\"\", stderr=\"Error fetching ranges\\n\")"}},
		{"engine logrus warning", engine[0], slog.LevelWarn,
			`The host root filesystem is mounted as "". Setting child propagation to "rslave" is not supported.`,
			map[string]string{"component": "rootlesskit", "role": "parent"}},
		{"engine logrus debug with error", engine[1], slog.LevelDebug, `failed to use subid source "dynamic", falling back to "static"`,
			map[string]string{"component": "rootlesskit", "role": "parent", "error": "permission denied"}},
		{"engine child, padded id, escapes", engine[2], slog.LevelInfo, "listening on tab\tand newline\n",
			map[string]string{"component": "rootlesskit", "role": "child"}},
		{"slirp4netns key=value in prose", slirp[0], slog.LevelDebug, "sent tapfd=5 for tap0", map[string]string{"component": "daemon"}},
		{"slirp4netns plain", slirp[2], slog.LevelDebug, "Starting slirp", map[string]string{"component": "daemon"}},
		{"slirp4netns table", slirp[3], slog.LevelDebug, "* MTU:             65520", map[string]string{"component": "daemon"}},

		// Shapes from the brief and from other versions.
		{"dockerd with time", `time="2026-11-28T10:00:00.000000000Z" level=info msg="Starting up"`, slog.LevelInfo, "Starting up",
			map[string]string{"component": "dockerd"}},
		{"dockerd error with module", `time="2026-11-28T10:00:01Z" level=error msg="failed to mount overlay: operation not permitted" storage-driver=overlay2 module=graphdriver`,
			slog.LevelError, "failed to mount overlay: operation not permitted", map[string]string{"component": "dockerd", "module": "graphdriver"}},
		{"fatal", `level=fatal msg="x"`, slog.LevelError, "x", map[string]string{"component": "dockerd"}},
		{"panic", `level=panic msg="x"`, slog.LevelError, "x", map[string]string{"component": "dockerd"}},
		{"trace", `level=trace msg="x"`, slog.LevelDebug, "x", map[string]string{"component": "dockerd"}},
		{"upper-case level", `level=WARN msg="x"`, slog.LevelWarn, "x", map[string]string{"component": "dockerd"}},
		{"unknown level", `level=notice msg=hello`, slog.LevelInfo, "hello", map[string]string{"component": "dockerd"}},
		{"no msg", `level=info foo=bar`, slog.LevelDebug, `level=info foo=bar`, map[string]string{"component": "daemon"}},
		{"unterminated quote", `level=info msg="half`, slog.LevelDebug, `level=info msg="half`, map[string]string{"component": "daemon"}},
		{"bad escape kept raw", `level=info msg="a\qb"`, slog.LevelInfo, `a\qb`, map[string]string{"component": "dockerd"}},
		{"rootlesskit child error", "[rootlesskit:child ] error: failed to share mount point: /: permission denied", slog.LevelError,
			"error: failed to share mount point: /: permission denied", map[string]string{"component": "rootlesskit", "role": "child"}},
		{"rootlesskit non-error", "[rootlesskit:parent] hint: something", slog.LevelInfo, "hint: something",
			map[string]string{"component": "rootlesskit", "role": "parent"}},
		{"rootlesskit prefix without id end", `level=info msg="[rootlesskit:parent"`, slog.LevelInfo, "[rootlesskit:parent",
			map[string]string{"component": "rootlesskit"}},
		{"dockerd 28 start failure", "failed to start daemon, ensure docker is not running or delete /run/user/1000/docker.pid: process with PID 42 is still running",
			slog.LevelError, "failed to start daemon, ensure docker is not running or delete /run/user/1000/docker.pid: process with PID 42 is still running",
			map[string]string{"component": "dockerd"}},
		{"dockerd config failure", "unable to configure the Docker daemon with file /x.json: open /x.json: no such file or directory", slog.LevelError,
			"unable to configure the Docker daemon with file /x.json: open /x.json: no such file or directory", map[string]string{"component": "dockerd"}},
		{"shell trace", "+ exec dockerd", slog.LevelDebug, "+ exec dockerd", map[string]string{"component": "daemon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			level, msg, attrs := parseDaemonLine(tt.line)
			if level != tt.level || msg != tt.msg {
				t.Errorf("parseDaemonLine(%q)\n = %v %q\nwant %v %q", tt.line, level, msg, tt.level, tt.msg)
			}
			got := map[string]string{}
			for _, a := range attrs {
				got[a.Key] = a.Value.String()
			}
			if !mapsEqual(got, tt.attrs) {
				t.Errorf("attrs = %q, want %q", got, tt.attrs)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestParseLogfmt(t *testing.T) {
	tests := []struct {
		line string
		want map[string]string // nil: not logfmt
	}{
		{`a=1 b="two words" c=`, map[string]string{"a": "1", "b": "two words", "c": ""}},
		{`  a=1   b=2  `, map[string]string{"a": "1", "b": "2"}},
		{`msg="say \"hi\"" x="\\"`, map[string]string{"msg": `say "hi"`, "x": `\`}},
		{`msg="\u00e9t\u00e9"`, map[string]string{"msg": "été"}},
		{`a==b`, map[string]string{"a": "=b"}},
		{`a=1 a=2`, map[string]string{"a": "2"}},
		{`url=http://x/?a=b`, map[string]string{"url": "http://x/?a=b"}},
		{``, nil},
		{`   `, nil},
		{`plain words`, nil},
		{`=value`, nil},
		{`a b=c`, nil},
		{`"a"=b`, nil},
		{`a="unterminated`, nil},
		{`a="x"b=c`, map[string]string{"a": "x", "b": "c"}}, // lenient: no space needed after a quote
	}
	for _, tt := range tests {
		got, ok := parseLogfmt(tt.line)
		if ok != (tt.want != nil) || ok && !mapsEqual(got, tt.want) {
			t.Errorf("parseLogfmt(%q) = %q, %v; want %q", tt.line, got, ok, tt.want)
		}
	}
}

func TestLogSinkEmits(t *testing.T) {
	rec, log := newRecorder(slog.LevelDebug)
	var raw bytes.Buffer
	s := newLogSink(&raw, log)
	var all []string
	for _, f := range []string{"dockerd-20.10.24-pidfile.log", "rootlesskit-1.1.0-nobody.log", "engine-logrus-1.10.2.log", "slirp4netns-1.2.0.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", "logs", f))
		if err != nil {
			t.Fatal(err)
		}
		s.Write(b)
		all = append(all, readLines(t, f)...)
	}
	if len(rec.records) != len(all) {
		t.Fatalf("%d records for %d lines", len(rec.records), len(all))
	}
	for i, r := range rec.records {
		level, msg, _ := parseDaemonLine(all[i])
		if r.level != level || r.msg != msg || r.attrs["component"] == "" {
			t.Errorf("record %d = %+v, want level %v msg %q and a component", i, r, level, msg)
		}
	}
	if got := strings.Count(raw.String(), "\n"); got != len(all) {
		t.Errorf("raw output has %d lines, want %d: the raw writer must get every byte", got, len(all))
	}
	if !slices.Equal(s.Tail(), all) {
		t.Errorf("Tail() = %q\nwant %q", s.Tail(), all)
	}
}

func TestLogSinkLevelFilter(t *testing.T) {
	rec, log := newRecorder(slog.LevelWarn)
	s := newLogSink(nil, log) // nil raw writer: discard
	s.Write([]byte("level=debug msg=a\nlevel=info msg=b\nlevel=warning msg=c\nplain\n[rootlesskit:parent] error: d\n"))
	var msgs []string
	for _, r := range rec.records {
		msgs = append(msgs, r.msg)
	}
	if !slices.Equal(msgs, []string{"c", "error: d"}) {
		t.Errorf("emitted %q, want only warnings and errors", msgs)
	}
	if len(s.Tail()) != 5 {
		t.Errorf("Tail() = %q: the tail keeps lines whatever the logger's level", s.Tail())
	}
}

func TestLogSinkTail(t *testing.T) {
	lines := func(from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf("line %d", i))
		}
		return out
	}
	tests := []struct {
		name  string
		write []string // successive Write calls
		want  []string
	}{
		{name: "empty", write: nil, want: nil},
		{name: "one", write: []string{"line 1\n"}, want: lines(1, 1)},
		{name: "partial line", write: []string{"line 1\nline", " 2"}, want: []string{"line 1", "line 2"}},
		{name: "line split across writes", write: []string{"li", "ne 1", "\nline 2\n"}, want: lines(1, 2)},
		{name: "CRLF", write: []string{"line 1\r\nline 2\r", "\n"}, want: lines(1, 2)},
		{name: "blank lines dropped", write: []string{"\n\r\nline 1\n\n"}, want: lines(1, 1)},
		{name: "exactly full", write: []string{strings.Join(lines(1, tailLines), "\n") + "\n"}, want: lines(1, tailLines)},
		{name: "wrapped once", write: []string{strings.Join(lines(1, tailLines+1), "\n") + "\n"}, want: lines(2, tailLines+1)},
		{name: "wrapped many times", write: []string{strings.Join(lines(1, 3*tailLines+7), "\n") + "\n"}, want: lines(2*tailLines+8, 3*tailLines+7)},
		{name: "wrapped, plus a partial line", write: []string{strings.Join(lines(1, 50), "\n") + "\nline 51"},
			want: lines(11, 51)}, // the partial line comes on top of the ring's 40
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, log := newRecorder(slog.LevelDebug)
			s := newLogSink(nil, log)
			for _, w := range tt.write {
				if n, err := s.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := s.Tail(); !slices.Equal(got, tt.want) {
				t.Errorf("Tail() = %q\nwant %q", got, tt.want)
			}
		})
	}
	// One line at a time, across the wrap, checking order after every write.
	_, log := newRecorder(slog.LevelDebug)
	s := newLogSink(nil, log)
	for i := 1; i <= 2*tailLines+3; i++ {
		fmt.Fprintf(s, "line %d\n", i)
		if got, want := s.Tail(), lines(max(1, i-tailLines+1), i); !slices.Equal(got, want) {
			t.Fatalf("after %d lines: Tail() = %q, want %q", i, got, want)
		}
	}
}

// TestLogSinkLongLine: output without a newline is cut at maxLineBytes instead of piling up.
func TestLogSinkLongLine(t *testing.T) {
	rec, log := newRecorder(slog.LevelDebug)
	s := newLogSink(nil, log)
	total := 3*maxLineBytes + 1
	for written := 0; written < total; {
		n := min(4096, total-written)
		s.Write(bytes.Repeat([]byte("x"), n))
		written += n
		if len(s.partial) > maxLineBytes {
			t.Fatalf("after %d bytes the buffer holds %d", written, len(s.partial))
		}
	}
	s.Write([]byte("\ntail\n"))
	if len(rec.records) != 5 {
		t.Fatalf("%d records, want 5 (three cut lines, the rest, and tail)", len(rec.records))
	}
	sum := 0
	for i, r := range rec.records[:4] {
		if i < 3 && len(r.msg) != maxLineBytes {
			t.Errorf("record %d has %d bytes, want %d", i, len(r.msg), maxLineBytes)
		}
		sum += len(r.msg)
	}
	if sum != total {
		t.Errorf("%d bytes emitted, want %d", sum, total)
	}
	if rec.records[4].msg != "tail" {
		t.Errorf("last record %q, want %q", rec.records[4].msg, "tail")
	}
	if len(s.partial) != 0 {
		t.Errorf("%d bytes left in the buffer", len(s.partial))
	}
}

// failingWriter fails every write, like a closed pipe given to WithDaemonOutput.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestLogSinkRawWriterFails(t *testing.T) {
	rec, log := newRecorder(slog.LevelDebug)
	s := newLogSink(failingWriter{}, log)
	if n, err := s.Write([]byte("level=info msg=x\n")); n != 17 || err != nil {
		t.Errorf("Write = %d, %v: a failing user writer must not fail the daemon's output", n, err)
	}
	if len(rec.records) != 1 {
		t.Errorf("%d records, want 1", len(rec.records))
	}
}

// TestLogSinkConcurrentTail: Tail may be called while the pump writes (run with -race).
func TestLogSinkConcurrentTail(t *testing.T) {
	_, log := newRecorder(slog.LevelDebug)
	s := newLogSink(nil, log)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 500 {
			fmt.Fprintf(s, "line %d\n", i)
		}
	})
	for range 100 {
		if n := len(s.Tail()); n > tailLines+1 {
			t.Fatalf("Tail has %d lines", n)
		}
	}
	wg.Wait()
	if got := s.Tail(); len(got) != tailLines || got[tailLines-1] != "line 499" {
		t.Errorf("Tail() ends with %q", got[len(got)-1])
	}
}

// TestLogSinkLongLineSplitAnywhere: a long line is cut at the same places whether it arrives in
// one write or in several.
func TestLogSinkLongLineSplitAnywhere(t *testing.T) {
	data := strings.Repeat("y", maxLineBytes+4464) + "\nnext\n"
	whole := newLogSink(nil, slog.New(slog.DiscardHandler))
	whole.Write([]byte(data))
	split := newLogSink(nil, slog.New(slog.DiscardHandler))
	split.Write([]byte(data[:66000]))
	split.Write([]byte(data[66000:]))
	w, s := whole.Tail(), split.Tail()
	if len(w) != 3 || len(w[0]) != maxLineBytes || len(w[1]) != 4464 || w[2] != "next" {
		t.Errorf("one write: %d lines of %v bytes", len(w), lens(w))
	}
	if !slices.Equal(w, s) {
		t.Errorf("one write gives lines of %v bytes, two give %v", lens(w), lens(s))
	}
}

func lens(ss []string) []int {
	var out []int
	for _, s := range ss {
		out = append(out, len(s))
	}
	return out
}

// TestLogSinkRetained: the diagnosis sees far more than the tail, within bounds of lines and
// bytes.
func TestLogSinkRetained(t *testing.T) {
	_, log := newRecorder(slog.LevelError)
	s := newLogSink(nil, log)
	for i := 1; i <= retainLines+10; i++ {
		fmt.Fprintf(s, "line %d\n", i)
	}
	got := s.Retained()
	if len(got) != retainLines || got[0] != "line 11" || got[len(got)-1] != fmt.Sprintf("line %d", retainLines+10) {
		t.Errorf("Retained() has %d lines from %q to %q, want %d from \"line 11\"", len(got), got[0], got[len(got)-1], retainLines)
	}
	if tail := s.Tail(); len(tail) != tailLines || tail[tailLines-1] != got[len(got)-1] {
		t.Errorf("Tail() = %d lines ending %q", len(tail), tail[len(tail)-1])
	}

	big := newLogSink(nil, log)
	line := strings.Repeat("x", 100<<10)
	for range 20 {
		fmt.Fprintln(big, line)
	}
	total := 0
	for _, l := range big.Retained() {
		total += len(l)
	}
	if total > retainBytes || len(big.Retained()) == 0 {
		t.Errorf("retained %d bytes in %d lines, want at most %d and at least one line", total, len(big.Retained()), retainBytes)
	}
}
