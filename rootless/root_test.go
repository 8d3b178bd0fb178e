package rootless

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
)

// TestRefusesRoot: rootless mode is for unprivileged users; run as root (as CI runs the unit
// tests), Launch and Check refuse with the reason before touching anything.
func TestRefusesRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs as root only (CI runs the unit tests as root)")
	}
	dir := t.TempDir() + "/state"
	for name, f := range map[string]func() error{
		"Launch":  func() error { _, err := Launch(context.Background(), WithStateDir(dir)); return err },
		"Resolve": func() error { _, err := Resolve(context.Background(), WithStateDir(dir)); return err },
		"Check": func() error {
			rep, err := Check(context.Background(), WithStateDir(dir))
			if err != nil {
				return err
			}
			return rep.Err()
		},
	} {
		err := f()
		pe, ok := errors.AsType[*diag.Finding](err)
		if !ok || pe.ID != IDRoot || pe.Severity != diag.Error || !strings.Contains(pe.Fix, "user") {
			t.Errorf("%s as root: %v; want an error-level %s finding with a fix", name, err, IDRoot)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state directory was created before the refusal: %v", err)
	}
}
