package cgroupdeleg

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSystemdVersion returns the major version of systemd from any of the
// forms it is reported in: the D-Bus Version property ("v245.4-1.fc32",
// with or without quotes), a bare number ("245"), or the first line of
// "systemctl --version" ("systemd 255 (255.4-1ubuntu8)"). Version 244 is
// the first that can delegate cpuset; from 252 on, user@.service
// delegates cpu by default.
func ParseSystemdVersion(s string) (int, error) {
	t := strings.TrimSpace(s)
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	if rest, ok := strings.CutPrefix(t, "systemd"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		t = strings.TrimSpace(rest)
	}
	t = strings.TrimPrefix(t, `"`)
	t = strings.TrimPrefix(t, "v")
	end := 0
	for end < len(t) && t[end] >= '0' && t[end] <= '9' {
		end++
	}
	if end == 0 || end > 9 {
		return 0, fmt.Errorf("cgroupdeleg: not a systemd version: %q (want e.g. \"245\", \"v245.4-1.fc32\" or \"systemd 255 (255.4-1ubuntu8)\")", truncate(s, 60))
	}
	n, _ := strconv.Atoi(t[:end]) // at most 9 digits: cannot fail
	if n == 0 {
		return 0, fmt.Errorf("cgroupdeleg: not a systemd version: %q (version 0)", truncate(s, 60))
	}
	return n, nil
}
