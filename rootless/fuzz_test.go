package rootless

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The committed seed corpora are in testdata/fuzz/<FuzzName>/: real lines from testdata/logs
// and edge cases (escapes at the end of a line, lone quotes, NUL bytes, invalid UTF-8).

func FuzzParseLogfmt(f *testing.F) {
	f.Add(`time="2026-11-28T10:01:49.663636604Z" level=info msg="Starting up"`)
	f.Fuzz(func(t *testing.T, line string) {
		fields, ok := parseLogfmt(line)
		if !ok {
			if len(fields) != 0 {
				t.Fatalf("not logfmt, but fields %q", fields)
			}
			return
		}
		if len(fields) == 0 {
			t.Fatal("logfmt without fields")
		}
		for k, v := range fields {
			if k == "" || strings.ContainsAny(k, " \"") || strings.Contains(k, "=") {
				t.Fatalf("bad key %q in %q", k, line)
			}
			if !strings.Contains(line, k+"=") {
				t.Fatalf("key %q does not occur in %q", k, line)
			}
			// A value comes from the line, literally or as a Go-quoted string.
			if !strings.Contains(line, k+"="+v) && !strings.Contains(line, k+"="+strconv.Quote(v)) &&
				!strings.Contains(line, k+`="`) {
				t.Fatalf("value %q of %q does not come from %q", v, k, line)
			}
		}
		// What was parsed parses again to the same fields when written back.
		var b strings.Builder
		for k, v := range fields {
			b.WriteString(" " + k + "=" + strconv.Quote(v))
		}
		again, ok := parseLogfmt(b.String())
		if !ok || !mapsEqual(again, fields) {
			t.Fatalf("round trip of %q: %q -> %q", line, fields, again)
		}
	})
}

func FuzzParseDaemonLine(f *testing.F) {
	f.Add(`[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: operation not permitted`)
	f.Fuzz(func(t *testing.T, line string) {
		level, msg, attrs := parseDaemonLine(line)
		switch level {
		case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
		default:
			t.Fatalf("level %v for %q", level, line)
		}
		if len(attrs) == 0 || attrs[0].Key != "component" {
			t.Fatalf("no component attribute first: %v", attrs)
		}
		switch c := attrs[0].Value.String(); c {
		case "dockerd", "rootlesskit", "daemon":
		default:
			t.Fatalf("component %q", c)
		}
		if level == slog.LevelDebug && attrs[0].Value.String() == "daemon" && msg != line {
			t.Fatalf("an unparsed line must be passed on whole: %q -> %q", line, msg)
		}
		if len(msg) > len(line) && utf8.ValidString(line) && !strings.Contains(line, `\`) {
			t.Fatalf("message %q longer than the line %q without escapes", msg, line)
		}
	})
}

// FuzzLogSink writes data in two pieces, split at cut, and checks that the tail holds
// complete lines without line ends, at most tailLines of them plus a partial one.
func FuzzLogSink(f *testing.F) {
	f.Add("level=info msg=a\r\nlevel=warning msg=\"b\"\npartial", 5)
	f.Fuzz(func(t *testing.T, data string, cut int) {
		s := newLogSink(nil, slog.New(slog.DiscardHandler))
		cut = min(max(cut, 0), len(data))
		s.Write([]byte(data[:cut]))
		s.Write([]byte(data[cut:]))
		tail := s.Tail()
		if len(tail) > tailLines+1 {
			t.Fatalf("%d lines in the tail", len(tail))
		}
		for i, l := range tail {
			last := i == len(tail)-1
			if strings.Contains(l, "\n") || l == "" && !last {
				t.Fatalf("line %d = %q", i, l)
			}
		}
		whole := newLogSink(nil, slog.New(slog.DiscardHandler))
		whole.Write([]byte(data))
		if got, want := strings.Join(tail, "\n"), strings.Join(whole.Tail(), "\n"); got != want {
			t.Fatalf("split at %d: %q, in one write: %q", cut, got, want)
		}
	})
}
