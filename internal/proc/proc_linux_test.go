//go:build linux

package proc

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"testing"
)

func TestReadStat(t *testing.T) {
	s, err := ReadStat(os.Getpid())
	if err != nil || s.PID != os.Getpid() || s.PPID != os.Getppid() || s.Exited() || s.Start == 0 {
		t.Errorf("ReadStat(self) = %+v, %v", s, err)
	}
	// A real zombie: a child that exited and is not yet reaped.
	cmd := exec.Command("/bin/sh", "-c", "exit 3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	for {
		s, err = ReadStat(pid)
		if err != nil || s.Exited() {
			break
		}
	}
	if err != nil || s.State != 'Z' || s.Exit != 3<<8 {
		t.Errorf("ReadStat(zombie) = %+v, %v; want state Z, exit %d", s, err, 3<<8)
	}
	_ = cmd.Wait()
	if _, err := ReadStat(pid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadStat(reaped) = %v; want fs.ErrNotExist", err)
	}
}
