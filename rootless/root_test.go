package rootless

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestRefusesRoot: rootless mode is for unprivileged users; run as root (as CI runs the unit
// tests), Launch and Check refuse with the reason before touching anything.
func TestRefusesRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs as root only (CI runs the unit tests as root)")
	}
	dir := t.TempDir() + "/state"
	for name, f := range map[string]func() error{
		"Launch": func() error { _, err := Launch(context.Background(), WithStateDir(dir)); return err },
		"Check":  func() error { return Check(context.Background(), WithStateDir(dir)) },
	} {
		err := f()
		pe, ok := errors.AsType[*PrereqError](err)
		if !ok || pe.Check != "root" || pe.Warning || !strings.Contains(pe.Remedy, "user") {
			t.Errorf("%s as root: %v; want a blocking PrereqError \"root\" with a remedy", name, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state directory was created before the refusal: %v", err)
	}
}
