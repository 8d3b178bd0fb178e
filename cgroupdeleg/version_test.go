package cgroupdeleg_test

import (
	"testing"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
)

func TestParseSystemdVersion(t *testing.T) {
	for in, want := range map[string]int{
		"v245.4-1.fc32":                245, // D-Bus Version property (C11)
		`"v245.4-1.fc32"`:              245, // as busctl prints it
		"245":                          245,
		"systemd 255 (255.4-1ubuntu8)": 255,
		"systemd 252 (252.22-1~deb12u1)\n+PAM +AUDIT +SELINUX": 252,
		"  243\n":      243,
		"255.4-1.fc40": 255, // from libsystemd-shared-255.4-1.fc40.so
		"systemd\t249": 249,
	} {
		if got, err := cgroupdeleg.ParseSystemdVersion(in); err != nil || got != want {
			t.Errorf("ParseSystemdVersion(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "systemd", "vv245", "v", "systemd-255", "0", "000", "1234567890", "abc 245", "-245"} {
		if got, err := cgroupdeleg.ParseSystemdVersion(in); err == nil {
			t.Errorf("ParseSystemdVersion(%q) = %d, want an error", in, got)
		}
	}
}

// The version is read from the name of libsystemd-shared, wherever the
// distribution puts it; the highest wins.
func TestDetectSystemdVersionFiles(t *testing.T) {
	for file, want := range map[string]int{
		"usr/lib/systemd/libsystemd-shared-256.so":                  256, // Arch
		"usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so": 252, // Debian 12
		"usr/lib64/systemd/libsystemd-shared-255.4-1.fc40.so":       255, // Fedora
		"lib/systemd/libsystemd-shared-241.so":                      241, // Debian 10
		"usr/lib/systemd/libsystemd-shared-x.so":                    0,
	} {
		files, manifest := v2Host()
		delete(files, "usr/lib/systemd/libsystemd-shared-249.so")
		files[file] = ""
		if got := detect(t, mapSys(t, files, manifest), 1000).SystemdVersion; got != want {
			t.Errorf("%s: SystemdVersion = %d, want %d", file, got, want)
		}
	}
	files, manifest := v2Host()
	files["usr/lib/systemd/libsystemd-shared-250.so"] = ""
	if got := detect(t, mapSys(t, files, manifest), 1000).SystemdVersion; got != 250 {
		t.Errorf("SystemdVersion = %d, want the highest, 250", got)
	}
}
