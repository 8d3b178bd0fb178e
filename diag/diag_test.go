package diag_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
)

const idMissing diag.ID = "example.binary-missing"

func TestFindingError(t *testing.T) {
	for _, tt := range []struct {
		f    diag.Finding
		want string
	}{
		{diag.Finding{ID: idMissing, Severity: diag.Error, Detail: "dockerd not found", Fix: "apt-get install docker.io"},
			"example.binary-missing: dockerd not found (fix: apt-get install docker.io)"},
		{diag.Finding{ID: idMissing, Severity: diag.Warning, Detail: "d", Err: fs.ErrNotExist},
			"warning: example.binary-missing: d: file does not exist"},
		{diag.Finding{ID: idMissing, Severity: diag.Info, Detail: "d: file does not exist", Err: fs.ErrNotExist},
			"info: example.binary-missing: d: file does not exist"},
		{diag.Finding{ID: idMissing, Severity: diag.Error, Detail: "d", Fix: "a\nb"},
			"example.binary-missing: d; fix:\na\nb"},
	} {
		if got := tt.f.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestIsAndList(t *testing.T) {
	a := &diag.Finding{ID: idMissing, Severity: diag.Error, Detail: "a", Fix: "fix a", Err: fs.ErrPermission}
	b := &diag.Finding{ID: "example.other", Severity: diag.Warning, Detail: "b", Fix: "fix b"}
	c := &diag.Finding{ID: "example.third", Severity: diag.Info, Detail: "c"}
	other := errors.New("plain")
	err := errors.Join(a, fmt.Errorf("wrapped: %w", errors.Join(b, c)), other, nil)
	if !errors.Is(err, idMissing) || !errors.Is(err, diag.ID("example.third")) || errors.Is(err, diag.ID("example.none")) {
		t.Error("errors.Is does not match findings by ID")
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Error("a finding does not unwrap to its cause")
	}
	got := diag.List(err)
	if len(got) != 3 || got[0] != a || got[1] != b || got[2] != c {
		t.Errorf("List = %v", got)
	}
	if w := diag.Worst(got); w != diag.Error {
		t.Errorf("Worst = %v", w)
	}
	if w := diag.Worst(nil); w != 0 {
		t.Errorf("Worst(nil) = %v", w)
	}
	if r := diag.Remedy(err); r != "fix a\nfix b" {
		t.Errorf("Remedy = %q", r)
	}
	bl := diag.Blocking(err)
	if l := diag.List(bl); len(l) != 1 || l[0] != a || !errors.Is(bl, other) {
		t.Errorf("Blocking = %v", bl)
	}
	if diag.Blocking(errors.Join(b, c)) != nil || diag.Blocking(nil) != nil {
		t.Error("Blocking keeps warnings")
	}
}

func TestJoin(t *testing.T) {
	e := errors.New("x")
	if diag.Join() != nil || diag.Join(nil, nil) != nil {
		t.Error("Join of nothing is not nil")
	}
	if diag.Join(nil, e) != e {
		t.Error("Join of one error wraps it")
	}
	if j := diag.Join(e, e); !errors.Is(j, e) || j == e {
		t.Error("Join of two is not a join")
	}
}

func TestSeverityText(t *testing.T) {
	for _, s := range []diag.Severity{diag.Info, diag.Warning, diag.Error} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back diag.Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip of %v: %v, %v", s, back, err)
		}
	}
	if _, err := diag.Severity(0).MarshalText(); err == nil {
		t.Error("the zero severity marshals")
	}
	var s diag.Severity
	if err := s.UnmarshalText([]byte("fatal")); err == nil || !strings.Contains(err.Error(), "info, warning or error") {
		t.Errorf("UnmarshalText(fatal) = %v", err)
	}
	if !(diag.Info < diag.Warning && diag.Warning < diag.Error) {
		t.Error("severities do not order")
	}
}

func TestIDValid(t *testing.T) {
	for id, want := range map[diag.ID]bool{
		"idmap.subuid-missing": true, "rootless.state-dir": true, "netdriver.pasta-too-old": true, "a.b2": true,
		"": false, "idmap": false, ".x": false, "idmap.": false, "Idmap.x": false, "idmap.X": false,
		"idmap.-x": false, "idmap.a_b": false, "id map.x": false, "idmap.a.b": false,
	} {
		if got := id.Valid(); got != want {
			t.Errorf("ID(%q).Valid() = %v, want %v", id, got, want)
		}
	}
}

func TestFindingJSON(t *testing.T) {
	f := &diag.Finding{ID: idMissing, Severity: diag.Warning, Detail: "d", Evidence: "/usr/bin/x", Fix: "f", Err: fs.ErrNotExist}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"example.binary-missing","severity":"warning","detail":"d","evidence":"/usr/bin/x","fix":"f","error":"file does not exist"}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
	var back diag.Finding
	if err := json.Unmarshal(b, &back); err != nil || back.ID != f.ID || back.Severity != f.Severity || back.Evidence != f.Evidence {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func ExampleList() {
	err := errors.Join(
		&diag.Finding{ID: "example.subuid-missing", Severity: diag.Error, Detail: `no entry for "alice" in /etc/subuid`,
			Evidence: "/etc/subuid", Fix: "sudo usermod --add-subuids 100000-165535 alice"},
		&diag.Finding{ID: "example.ping", Severity: diag.Warning, Detail: "ping does not work in containers",
			Evidence: "net.ipv4.ping_group_range = 1 0", Fix: "sudo sysctl -w net.ipv4.ping_group_range='0 2147483647'"},
	)
	for _, f := range diag.List(err) {
		fmt.Printf("%s %s: %s [%s]\n  fix: %s\n", f.Severity, f.ID, f.Detail, f.Evidence, f.Fix)
	}
	// Output:
	// error example.subuid-missing: no entry for "alice" in /etc/subuid [/etc/subuid]
	//   fix: sudo usermod --add-subuids 100000-165535 alice
	// warning example.ping: ping does not work in containers [net.ipv4.ping_group_range = 1 0]
	//   fix: sudo sysctl -w net.ipv4.ping_group_range='0 2147483647'
}
