package idmap

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
)

// capsV2 builds a version 2 security.capability value.
func capsV2(effective bool, permitted uint64) []byte {
	b := make([]byte, 20)
	magic := uint32(0x02000000)
	if effective {
		magic |= 1
	}
	binary.LittleEndian.PutUint32(b, magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(permitted))
	binary.LittleEndian.PutUint32(b[12:], uint32(permitted>>32))
	return b
}

func TestJudgeHelper(t *testing.T) {
	v3 := append(capsV2(true, 1<<7), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(v3, 0x03000001)
	tests := []struct {
		name         string
		helper       string
		mode         fs.FileMode
		owner        uint32
		xattr        []byte
		setuid, caps bool
	}{
		{"setuid root", "newuidmap", 0o755 | fs.ModeSetuid, 0, nil, true, false},
		{"setuid but not root", "newuidmap", 0o755 | fs.ModeSetuid, 1000, nil, false, false},
		{"plain", "newuidmap", 0o755, 0, nil, false, false},
		{"cap_setuid=ep", "newuidmap", 0o755, 0, capsV2(true, 1<<7), false, true},
		{"cap_setuid=p", "newuidmap", 0o755, 0, capsV2(false, 1<<7), false, true},
		{"cap_setgid on newuidmap", "newuidmap", 0o755, 0, capsV2(true, 1<<6), false, false},
		{"cap_setgid on newgidmap", "newgidmap", 0o755, 0, capsV2(true, 1<<6), false, true},
		{"version 3", "newuidmap", 0o755, 0, v3, false, true},
		{"truncated", "newuidmap", 0o755, 0, capsV2(true, 1<<7)[:9], false, false},
		{"unknown revision", "newuidmap", 0o755, 0, []byte{1, 0, 0, 9, 0xff, 0, 0, 0, 0, 0, 0, 0}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Helper{Name: tt.helper, Path: "/usr/bin/" + tt.helper}
			judgeHelper(&h, tt.mode, tt.owner, tt.xattr)
			if h.Setuid != tt.setuid || h.Caps != tt.caps {
				t.Errorf("Setuid, Caps = %v, %v, want %v, %v", h.Setuid, h.Caps, tt.setuid, tt.caps)
			}
			if h.Usable() != (tt.setuid || tt.caps) {
				t.Errorf("Usable = %v", h.Usable())
			}
		})
	}
}

func TestFindHelper(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("newuidmap is Linux only")
	}
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	_, err := FindHelper("newuidmap")
	if f, ok := errors.AsType[*diag.Finding](err); !ok || f.ID != IDNewuidmapMissing || !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("missing: err = %v", err)
	}
	path := filepath.Join(dir, "newuidmap")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := FindHelper("newuidmap")
	if h.Path != path {
		t.Fatalf("Path = %q", h.Path)
	}
	if f, ok := errors.AsType[*diag.Finding](err); !ok || f.ID != IDNewuidmapNotSetuid || f.Remedy() == "" {
		t.Fatalf("not setuid: err = %v", err)
	}
	if err := os.Chmod(path, 0o4755); err != nil {
		t.Fatal(err)
	}
	h, err = FindHelper(path)
	st, _ := os.Stat(path)
	rootOwned := os.Getuid() == 0 && st.Mode()&fs.ModeSetuid != 0
	if rootOwned && !h.NoSuid {
		if err != nil || !h.Setuid {
			t.Errorf("setuid root: %+v, %v", h, err)
		}
	} else if err == nil || h.Setuid && !h.NoSuid {
		t.Errorf("setuid file owned by uid %d: %+v, %v", os.Getuid(), h, err)
	}
}
