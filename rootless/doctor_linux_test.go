package rootless

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealDataRootLock: a process (this test) that holds a lock on a file of the data root,
// seen through the real /proc/locks.
func TestRealDataRootLock(t *testing.T) {
	dir := t.TempDir()
	f, err := lock(filepath.Join(dir, dataLockFile))
	if err != nil {
		t.Fatal(err)
	}
	h := localHost("/usr/bin:/bin")
	fnd := dataRootInUse(h, dir)
	if fnd == nil {
		t.Fatalf("a held lock on %s/%s is not seen", dir, dataLockFile)
	}
	if !strings.Contains(fnd.Detail, fmt.Sprintf("process %d", os.Getpid())) || !errors.Is(fnd, ErrAlreadyRunning) {
		t.Errorf("finding %v does not name this process (%d)", fnd, os.Getpid())
	}
	f.Close()
	if fnd := dataRootInUse(h, dir); fnd != nil {
		t.Errorf("released lock still seen: %v", fnd)
	}
}
