package proc

import (
	"strings"
	"testing"
)

// tail is the rest of a real stat line after the session field, with starttime 529974 and an
// exit_code field last.
const tail = " 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 529974 3133440 355 18446744073709551615 94867920814080 94867920833961 140724143809264 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94867920849968 94867920851584 94868729511936 140724143815363 140724143815383 140724143815383 140724143816683 "

func TestParseStat(t *testing.T) {
	// Real lines: a running cat, a comm with spaces and parentheses, a zombie killed by SIGKILL
	// (exit_code 9), one that exited with status 1 (256), one from a kernel before 3.5.
	for _, tt := range []struct {
		line string
		want Stat
	}{
		{"19738 (cat) R 19736 19736 14760" + tail + "0", Stat{PID: 19738, PPID: 19736, State: 'R', Start: 529974, Comm: "cat", Exit: -1}},
		{"42 (a b) (c)) T 1 42 42" + tail + "0", Stat{PID: 42, PPID: 1, State: 'T', Start: 529974, Comm: "a b) (c)", Exit: -1}},
		{"7 (slirp4netns) Z 5 5 5" + tail + "9", Stat{PID: 7, PPID: 5, State: 'Z', Start: 529974, Comm: "slirp4netns", Exit: 9}},
		{"8 (dockerd) Z 5 5 5" + tail + "256", Stat{PID: 8, PPID: 5, State: 'Z', Start: 529974, Comm: "dockerd", Exit: 256}},
		{"9 (old) Z 5 5 5 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 77 3133440", Stat{PID: 9, PPID: 5, State: 'Z', Start: 77, Comm: "old", Exit: -1}},
	} {
		got, err := ParseStat([]byte(tt.line))
		if err != nil || got != tt.want {
			t.Errorf("ParseStat(%.40q...) = %+v, %v\nwant %+v", tt.line, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "x", "12 (a", "a (b) R 1 2 3", "12 (a) RR 1" + tail, "12 (a) R -4" + tail,
		"-1 (a) R 1" + tail, "12 (a) R 1 2", "7 (x) S", "7 x S 1" + tail} {
		if s, err := ParseStat([]byte(bad)); err != ErrFormat {
			t.Errorf("ParseStat(%q) = %+v, %v; want ErrFormat", bad, s, err)
		}
	}
}

func TestStates(t *testing.T) {
	for state, want := range map[byte][2]bool{'R': {}, 'S': {}, 'D': {}, 'T': {true, false}, 't': {true, false}, 'Z': {false, true}, 'X': {false, true}} {
		s := Stat{State: state}
		if s.Stopped() != want[0] || s.Exited() != want[1] {
			t.Errorf("state %c: stopped %v, exited %v; want %v", state, s.Stopped(), s.Exited(), want)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("19738 (cat) R 19736 19736 14760" + tail + "0")
	f.Add("7 (a) (b)) Z 5 5 5" + tail + "9")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseStat([]byte(text))
		if err != nil {
			return
		}
		if s.PID <= 0 || s.PPID < 0 || s.Exit < -1 || s.Exit > 0xffff {
			t.Fatalf("ParseStat(%q) = %+v", text, s)
		}
		if !strings.Contains(text, "("+s.Comm+")") {
			t.Fatalf("comm %q not in %q", s.Comm, text)
		}
		if s.Exit >= 0 && !s.Exited() {
			t.Fatalf("an exit status for a live process: %+v", s)
		}
	})
}
