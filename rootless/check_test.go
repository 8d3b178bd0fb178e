package rootless

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIptablesOff(t *testing.T) {
	dir := t.TempDir()
	off := filepath.Join(dir, "off.json")
	on := filepath.Join(dir, "on.json")
	if err := os.WriteFile(off, []byte(`{"iptables": false}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(on, []byte(`{"iptables": true, "mtu": 1400}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		cfg  string
		want bool
	}{
		{nil, "", false},
		{[]string{"--iptables=false"}, "", true},
		{[]string{"--iptables=0"}, "", true},
		{[]string{"--iptables=FALSE"}, "", true},
		{[]string{"--iptables=false", "--iptables=true"}, "", false}, // the last wins, as in dockerd
		{[]string{"--iptables=nonsense"}, "", false},
		{nil, off, true},
		{nil, on, false},
		{nil, filepath.Join(dir, "missing.json"), false},
	} {
		if got := iptablesOff(localHost("/usr/bin:/bin"), tt.args, tt.cfg); got != tt.want {
			t.Errorf("iptablesOff(%q, %q) = %v, want %v", tt.args, tt.cfg, got, tt.want)
		}
	}
}
