package rootless

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// tailLines is how many lines of daemon output a StartError or ExitError carries.
const tailLines = 40

// The sink retains more than the tail for the diagnosis: the line that explains a failure is
// often far from the end (a full data root shows as "no space left on device" dozens of lines
// before dockerd's last words, a containerd dial error). At most retainLines lines and
// retainBytes bytes are kept, the newest.
const (
	retainLines = 2000
	retainBytes = 512 << 10
)

// maxLineBytes bounds a line: output without a newline is cut into lines of this size, so that a
// child printing endlessly without one cannot grow the buffer without limit.
const maxLineBytes = 64 << 10

// logSink receives everything the daemon's process tree prints. It copies the bytes to the
// user's writer, re-emits each line into the logger at the level the line declares, and keeps
// the last lines for error reports. Writes come from one goroutine (the engine's pump).
type logSink struct {
	raw io.Writer
	log *slog.Logger

	mu      sync.Mutex
	partial []byte
	kept    []string // the retained lines, oldest first, from index start
	start   int
	bytes   int // of kept[start:]
}

func newLogSink(raw io.Writer, log *slog.Logger) *logSink {
	if raw == nil {
		raw = io.Discard
	}
	return &logSink{raw: raw, log: log}
}

// keep retains line, dropping the oldest lines beyond the limits. Called with mu held.
func (s *logSink) keep(line string) {
	s.kept = append(s.kept, line)
	s.bytes += len(line)
	for len(s.kept)-s.start > retainLines || s.bytes > retainBytes && len(s.kept)-s.start > 1 {
		s.bytes -= len(s.kept[s.start])
		s.kept[s.start] = ""
		s.start++
	}
	if s.start > len(s.kept)/2 && s.start > 64 { // compact: the dropped half is garbage
		s.kept = append([]string(nil), s.kept[s.start:]...)
		s.start = 0
	}
}

func (s *logSink) Write(p []byte) (int, error) {
	_, _ = s.raw.Write(p) // a failing user writer must not stall the daemon's output
	s.mu.Lock()
	s.partial = append(s.partial, p...)
	var lines []string
	for {
		i := bytes.IndexByte(s.partial, '\n')
		skip := 1
		if i < 0 || i > maxLineBytes {
			if len(s.partial) <= maxLineBytes {
				break
			}
			i, skip = maxLineBytes, 0 // however the output was split into writes
		}
		line := strings.TrimRight(string(s.partial[:i]), "\r")
		s.partial = s.partial[i+skip:]
		if line == "" {
			continue
		}
		s.keep(line)
		lines = append(lines, line)
	}
	if len(s.partial) == 0 {
		s.partial = nil // let the consumed buffer go
	}
	s.mu.Unlock()
	for _, l := range lines {
		s.emit(l)
	}
	return len(p), nil
}

// Tail returns the last tailLines lines in order, oldest first, and the partial line.
func (s *logSink) Tail() []string { return s.last(tailLines) }

// Retained returns every retained line in order, oldest first, and the partial line: what the
// diagnosis searches.
func (s *logSink) Retained() []string { return s.last(retainLines) }

func (s *logSink) last(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := s.kept[s.start:]
	out := slices.Clone(lines[max(0, len(lines)-n):])
	if len(s.partial) > 0 {
		out = append(out, string(s.partial))
	}
	return out
}

func (s *logSink) emit(line string) {
	level, msg, attrs := parseDaemonLine(line)
	if !s.log.Enabled(context.Background(), level) {
		return
	}
	s.log.LogAttrs(context.Background(), level, msg, attrs...)
}

// parseDaemonLine turns one line of output into a level, a message and attributes. dockerd,
// containerd and (through our formatter) RootlessKit print logfmt: time="..." level=info
// msg="..." key=value. RootlessKit's own errors ("[rootlesskit:parent] error: ...") and dockerd's
// start-up failures ("failed to start daemon: ...") come out at Error, other lines (network
// driver programs, shells) at Debug.
func parseDaemonLine(line string) (slog.Level, string, []slog.Attr) {
	if rest, ok := strings.CutPrefix(line, "[rootlesskit:"); ok {
		// "[rootlesskit:parent] error: ..." printed when RootlessKit fails.
		id, msg, _ := strings.Cut(rest, "] ")
		level := slog.LevelInfo
		if strings.HasPrefix(msg, "error: ") {
			level = slog.LevelError
		}
		return level, msg, []slog.Attr{slog.String("component", "rootlesskit"), slog.String("role", strings.TrimSpace(id))}
	}
	fields, ok := parseLogfmt(line)
	if !ok || fields["msg"] == "" {
		for _, p := range dockerdFatal {
			if strings.HasPrefix(line, p) {
				return slog.LevelError, line, []slog.Attr{slog.String("component", "dockerd")}
			}
		}
		return slog.LevelDebug, line, []slog.Attr{slog.String("component", "daemon")}
	}
	msg := fields["msg"]
	attrs := []slog.Attr{slog.String("component", "dockerd")}
	if rest, ok := strings.CutPrefix(msg, "[rootlesskit:"); ok {
		// Our engine's logrus formatter: level=warning msg="[rootlesskit:parent] ...".
		attrs = []slog.Attr{slog.String("component", "rootlesskit")}
		if id, m, ok := strings.Cut(rest, "] "); ok {
			msg = m
			attrs = append(attrs, slog.String("role", strings.TrimSpace(id)))
		}
	}
	for _, k := range []string{"error", "module", "container", "stage"} {
		if v, ok := fields[k]; ok {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	return logfmtLevel(fields["level"]), msg, attrs
}

// dockerdFatal are the starts of the plain lines dockerd prints to stderr when it cannot start:
// the error its command returned, not a log record (moby cmd/dockerd: "failed to start daemon:
// pid file found, ..." in 20.10, "failed to start daemon, ensure docker is not running ..." in 28).
var dockerdFatal = []string{
	"failed to start daemon",
	"unable to configure the Docker daemon",
	"Error starting daemon", // before 20.10
	"dockerd needs to be started with root privileges",
	"rootless mode needs to be enabled",
}

func logfmtLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error", "fatal", "panic":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// parseLogfmt splits key=value pairs; values may be double-quoted with Go escapes. It reports
// false for a line that is not logfmt.
func parseLogfmt(line string) (map[string]string, bool) {
	fields := map[string]string{}
	s := line
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return fields, len(fields) > 0
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \"") {
			return nil, false
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := closingQuote(s)
			if end < 0 {
				return nil, false
			}
			v, err := strconv.Unquote(s[:end+1])
			if err != nil {
				v = s[1:end]
			}
			val, s = v, s[end+1:]
		} else {
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				sp = len(s)
			}
			val, s = s[:sp], s[sp:]
		}
		fields[key] = val
	}
}

// closingQuote returns the index of the quote that ends the quoted string s starts with.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}
