package rootless

import (
	"testing"
)

func TestParseStat(t *testing.T) {
	// Real lines: a running cat, a comm with spaces and parentheses, a zombie killed by SIGKILL
	// (exit_code 9), one that exited with status 1 (256).
	const tail = " 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 529974 3133440 355 18446744073709551615 94867920814080 94867920833961 140724143809264 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94867920849968 94867920851584 94868729511936 140724143815363 140724143815383 140724143815383 140724143816683 "
	for _, tt := range []struct {
		line string
		want procInfo
	}{
		{"19738 (cat) R 19736 19736 14760" + tail + "0", procInfo{PID: 19738, PPID: 19736, State: 'R', Start: 529974, Comm: "cat", Exit: -1}},
		{"42 (a b) (c)) T 1 42 42" + tail + "0", procInfo{PID: 42, PPID: 1, State: 'T', Start: 529974, Comm: "a b) (c)", Exit: -1}},
		{"7 (slirp4netns) Z 5 5 5" + tail + "9", procInfo{PID: 7, PPID: 5, State: 'Z', Start: 529974, Comm: "slirp4netns", Exit: 9}},
		{"8 (dockerd) Z 5 5 5" + tail + "256", procInfo{PID: 8, PPID: 5, State: 'Z', Start: 529974, Comm: "dockerd", Exit: 256}},
		{"9 (old) Z 5 5 5 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 77 3133440", procInfo{PID: 9, PPID: 5, State: 'Z', Start: 77, Comm: "old", Exit: -1}}, // before Linux 3.5
	} {
		got, err := parseStat([]byte(tt.line))
		if err != nil || got.PID != tt.want.PID || got.PPID != tt.want.PPID || got.State != tt.want.State ||
			got.Start != tt.want.Start || got.Comm != tt.want.Comm || got.Exit != tt.want.Exit {
			t.Errorf("parseStat(%.40q...) = %+v, %v\nwant %+v", tt.line, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "x", "12 (a", "a (b) R 1 2 3", "12 (a) RR 1" + tail, "12 (a) R -4" + tail, "-1 (a) R 1" + tail, "12 (a) R 1 2"} {
		if p, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) = %+v, want an error", bad, p)
		}
	}
}
