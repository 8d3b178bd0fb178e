package diag

import (
	"encoding/json"
	"testing"
)

// FuzzSeverity: UnmarshalText accepts exactly what MarshalText writes, and JSON round-trips.
func FuzzSeverity(f *testing.F) {
	for _, s := range []string{"info", "warning", "error", "Error", "", "fatal"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sev Severity
		if err := sev.UnmarshalText([]byte(s)); err != nil {
			return
		}
		b, err := sev.MarshalText()
		if err != nil || string(b) != s {
			t.Fatalf("%q -> %v -> %q, %v", s, sev, b, err)
		}
		var f Finding
		if err := json.Unmarshal([]byte(`{"id":"x.y","severity":"`+s+`"}`), &f); err != nil || f.Severity != sev {
			t.Fatalf("JSON: %v, %v", f.Severity, err)
		}
	})
}
