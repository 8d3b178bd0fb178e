//go:build linux

package engine

import (
	"os"
	"testing"
)

func TestParseStartTime(t *testing.T) {
	// COMM with spaces and a ')' must not shift the fields.
	stat := "4242 (a b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615\n"
	if st, err := parseStartTime([]byte(stat)); err != nil || st != 987654 {
		t.Fatalf("parseStartTime = %d, %v; want 987654", st, err)
	}
	if _, err := parseStartTime([]byte("4242 (x) S 1")); err == nil {
		t.Fatal("a truncated stat line parsed")
	}
	a, err := StartTime(os.Getpid())
	if err != nil || a == 0 {
		t.Fatalf("StartTime(self) = %d, %v", a, err)
	}
	if _, err := StartTime(1 << 30); err == nil {
		t.Fatal("StartTime of a pid that cannot exist succeeded")
	}
}
