package rootless

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRealDataRootLock: a process that holds a lock on a file of the data root, seen through
// the real /proc/locks; this process's own lock is not another daemon (EngineAuto's fallback
// resolves again while its Launch holds it).
func TestRealDataRootLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, dataLockFile)
	own, err := lock(path)
	if err != nil {
		t.Fatal(err)
	}
	h := localHost("/usr/bin:/bin")
	if fnd := dataRootInUse(h, dir); fnd != nil {
		t.Errorf("this process's own lock is taken for another daemon: %v", fnd)
	}
	own.Close()
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Skipf("flock (util-linux) not found: %v", err)
	}
	cmd := exec.Command(flock, "-o", path, "sleep", "300") // -o: sleep does not inherit the lock
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}  // killed with its sleep
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }
	defer kill()
	var fnd error
	for range 200 { // until flock(1) holds it
		if f := dataRootInUse(h, dir); f != nil {
			fnd = f
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fnd == nil {
		t.Fatalf("a lock held by flock(1) on %s is not seen", path)
	}
	if !strings.Contains(fnd.Error(), fmt.Sprintf("process %d", cmd.Process.Pid)) || !errors.Is(fnd, ErrAlreadyRunning) {
		t.Errorf("finding %v does not name the process that holds the lock (%d)", fnd, cmd.Process.Pid)
	}
	kill()
	// flock(1)'s forked child shares the locked file description until it closes it (-o) or
	// dies, and Wait returns once flock itself is reaped: the child's SIGKILL may land a moment
	// later, so the lock may outlive Wait briefly, but not for seconds.
	stale := dataRootInUse(h, dir)
	for i := 0; stale != nil && i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
		stale = dataRootInUse(h, dir)
	}
	if stale != nil {
		t.Errorf("released lock still seen 5 s after its holders were killed: %v", stale)
	}
}
