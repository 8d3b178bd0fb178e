//go:build !linux

package netdriver

import (
	"errors"
	"io/fs"
	"os/exec"
)

func getxattr(name, attr string) ([]byte, error) { return nil, errors.ErrUnsupported }

func kernelSeccomp() bool { return false }

func setProcessGroup(*exec.Cmd) {}

func fileID(fs.FileInfo) uint64 { return 0 }

func fileOwner(fs.FileInfo) (uint32, bool) { return 0, false }
