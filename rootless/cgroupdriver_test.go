package rootless

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupDriverOpt(t *testing.T) {
	dir := t.TempDir()
	cfs := filepath.Join(dir, "cgroupfs.json")
	if err := os.WriteFile(cfs, []byte(`{"exec-opts": ["native.cgroupdriver=cgroupfs"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(`{"exec-opts": ["foo=bar"], "mtu": 1400}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		cfg  string
		want string
	}{
		{nil, "", ""},
		{[]string{"--exec-opt", "native.cgroupdriver=cgroupfs"}, "", "cgroupfs"},
		{[]string{"--exec-opt=native.cgroupdriver=systemd"}, "", "systemd"},
		{[]string{"--exec-opt=native.cgroupdriver=systemd", "--exec-opt", "native.cgroupdriver=cgroupfs"}, "", "cgroupfs"},
		{[]string{"--exec-opt", "foo=bar"}, "", ""},
		{nil, cfs, "cgroupfs"},
		{nil, other, ""},
		{[]string{"--exec-opt=native.cgroupdriver=systemd"}, cfs, "systemd"}, // the command line wins, as dockerd refuses both
		{nil, filepath.Join(dir, "missing.json"), ""},
	} {
		if got := cgroupDriverOpt(tt.args, tt.cfg); got != tt.want {
			t.Errorf("cgroupDriverOpt(%q, %q) = %q, want %q", tt.args, tt.cfg, got, tt.want)
		}
	}
	if systemdCgroupDriver([]string{"--exec-opt=native.cgroupdriver=cgroupfs"}, "") {
		t.Error("an explicit cgroupfs driver counts as systemd")
	}
	if !systemdCgroupDriver([]string{"--exec-opt=native.cgroupdriver=systemd"}, "") {
		t.Error("an explicit systemd driver does not count")
	}
}
