//go:build linux

package rootless

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordPlanRoundTrip: the plan Attach reads back from a record marshals as the launched
// one did, drivers included.
func TestRecordPlanRoundTrip(t *testing.T) {
	p, err, _ := resolveOn(t, debian12())
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodePlan(want)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(back)
	if string(got) != string(want) {
		t.Errorf("decoded plan differs:\n got %s\nwant %s", got, want)
	}
	if back.Network == nil || back.Network.Name() != p.Network.Name() || back.Port == nil || back.Port.Name() != p.Port.Name() {
		t.Errorf("drivers %v %v, want %v %v", back.Network, back.Port, p.Network, p.Port)
	}
}

// TestAttachWithoutRecord: Attach on a directory without a daemon says ErrNotRunning; a record
// that is not one, or of another version, is named with its path.
func TestAttachWithoutRecord(t *testing.T) {
	dir, err := os.MkdirTemp("/var/tmp", "rlsd-att-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if _, err := Attach(t.Context(), WithStateDir(dir)); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Attach on an empty state dir: %v, want ErrNotRunning", err)
	}
	rec := filepath.Join(dir, recordFile)
	for _, content := range []string{"{not json", `{"version": 99, "pid": 1}`} {
		if err := os.WriteFile(rec, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Attach(t.Context(), WithStateDir(dir))
		if err == nil || errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), rec) {
			t.Errorf("Attach with record %q: %v, want an error naming %s", content, err, rec)
		}
	}
	if _, err := Attach(t.Context(), WithStateDir("relative")); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Attach with a relative state dir: %v, want ErrInvalidOption", err)
	}
}

func TestEngineText(t *testing.T) {
	for _, e := range []Engine{EngineAuto, EngineEmbedded, EngineExternal} {
		b, _ := e.MarshalText()
		var back Engine
		if err := back.UnmarshalText(b); err != nil || back != e {
			t.Errorf("%s: back %s, %v", e, back, err)
		}
	}
	var e Engine
	if err := e.UnmarshalText([]byte("turbo")); err == nil {
		t.Error("engine turbo accepted")
	}
}
