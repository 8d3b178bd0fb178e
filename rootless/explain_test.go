package rootless

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// TestExplainFullDataRoot (regression, issue 14): dockerd 20.10 on a full data root ends with
// a containerd dial error; "no space left on device" came lines earlier, beyond the tail the
// diagnosis used to search, and the StartError only said the tree exited with status 1. The
// diagnosis now searches everything the sink retained, and names the full directory.
func TestExplainFullDataRoot(t *testing.T) {
	log := readLines(t, "dockerd-20.10.24-full-data-root.log") // a real run on a full 2 MiB tmpfs
	paths := Paths{StateDir: "/run/user/2006/x", ExecRoot: "/run/user/2006/x/docker", DataRoot: "/var/tmp/rd6/full/data"}
	full := func(dir string) (uint64, uint64, bool) {
		if strings.HasPrefix(dir, "/var/tmp/rd6/full") {
			return 0, 2 << 20, true
		}
		return 1 << 30, 8 << 30, true
	}
	// Whatever dockerd prints after the failure, up to the sink's limits.
	var after []string
	for _, l := range log {
		if strings.Contains(l, "Channel Connectivity") {
			after = append(after, l)
		}
	}
	for name, lines := range map[string][]string{
		"as logged":            log,
		"60 more lines after":  append(slices.Clone(log), repeat(after, 60)...),
		"500 more lines after": append(slices.Clone(log), repeat(after, 500)...),
	} {
		t.Run(name, func(t *testing.T) {
			s := newLogSink(nil, slog.New(slog.DiscardHandler))
			for _, l := range lines {
				s.Write([]byte(l + "\n"))
			}
			cause, fix := explain(s.Retained(), paths, full)
			if want := "the data root /var/tmp/rd6/full/data is on a full file system (0 B of 2.0 MiB free)"; cause != want {
				t.Errorf("cause %q, want %q", cause, want)
			}
			if !strings.Contains(fix, "df -h /var/tmp/rd6/full/data") || !strings.Contains(fix, "WithDataRoot") {
				t.Errorf("fix %q", fix)
			}
			if tail := s.Tail(); slices.ContainsFunc(tail, func(l string) bool { return strings.Contains(l, "no space") }) && name != "as logged" {
				t.Errorf("the tail holds the complaint: the case proves nothing")
			}
		})
	}
}

func TestExplainWhichDirectory(t *testing.T) {
	paths := Paths{StateDir: "/run/user/1000/rd", ExecRoot: "/run/user/1000/rd/docker", DataRoot: "/home/u/.local/share/docker"}
	none := func(string) (uint64, uint64, bool) { return 0, 0, false }
	for _, tt := range []struct {
		line, want string
		free       func(string) (uint64, uint64, bool)
	}{
		{`level=error msg="write /run/user/1000/rd/docker/containerd/x: no space left on device"`, "the exec root /run/user/1000/rd/docker is on a full file system", none},
		{`open /run/user/1000/rd/docker.pid: no space left on device`, "the state directory /run/user/1000/rd is on a full file system", none},
		{`mkdir /home/u/.local/share/docker/tmp: no space left on device`, "the data root /home/u/.local/share/docker is on a full file system", none},
		// No path: the directory whose file system has no space.
		{`write: no space left on device`, "the state directory /run/user/1000/rd is on a full file system (0 B of 16 MiB free)", func(d string) (uint64, uint64, bool) {
			if d == paths.StateDir {
				return 0, 16 << 20, true
			}
			return 1 << 20, 1 << 30, true
		}},
		{`write: no space left on device`, diskFull.cause, none},
		// The user-namespace limit shares the errno and keeps its own diagnosis.
		{`[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: no space left on device`, "user.max_user_namespaces is too small", none},
		// A prefix of a directory name is not that directory.
		{`write /home/u/.local/share/docker-old/x: no space left on device`, diskFull.cause, none},
	} {
		if cause, _ := explain([]string{tt.line}, paths, tt.free); !strings.HasPrefix(cause, tt.want) {
			t.Errorf("%s:\ncause %q, want %q", tt.line, cause, tt.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 2 << 20: "2.0 MiB", 71 << 30: "71 GiB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func repeat(lines []string, n int) []string {
	var out []string
	for len(out) < n {
		out = append(out, lines...)
	}
	return out[:n]
}
