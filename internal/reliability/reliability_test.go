package reliability

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	good := "# Reliability: the fault-injection suite\n\nintro\n\n" +
		"- date: 2026-12-02 02:00 UTC\n- machine: Debian GNU/Linux 12 (bookworm), kernel 6.1.0-28-amd64, 2 cores\n" +
		"- stacks: current (dockerd 29.0.0), distro (dockerd 20.10.24); engine: RootlessKit embedded (the default)\n" +
		"- mode: short (CI); x\n- result: 1 of 2 scenario runs passed, in 4m2s\n\n" +
		"| family | scenario | stack | result | orphans | data kept | seen | detect | took |\n|---|---|---|---|---|---|---|---|---|\n" +
		"| kill | SIGKILL dockerd | distro | pass | 0 | yes | rootless: a \\| b | 1.2s (until Done) | 4.1s |\n" +
		"| kill | SIGKILL dockerd | current | **FAIL** | 2 | no (image lost) | – | – | 1m0.5s |\n"
	if err := Check(good); err != nil {
		t.Fatalf("a good report: %v", err)
	}
	for name, mangle := range map[string]func(string) string{
		"no date":        func(s string) string { return strings.Replace(s, "- date: 2026-12-02 02:00 UTC", "- date: today", 1) },
		"a missing cell": func(s string) string { return strings.Replace(s, "| 0 | yes |", "| yes |", 1) },
		"bad result":     func(s string) string { return strings.Replace(s, "| pass |", "| ok |", 1) },
		"bad count":      func(s string) string { return strings.Replace(s, "1 of 2", "2 of 2", 1) },
		"one stack":      func(s string) string { return strings.ReplaceAll(s, "| current |", "| distro |") },
		"bad orphans":    func(s string) string { return strings.Replace(s, "| 2 |", "| two |", 1) },
		"bad duration":   func(s string) string { return strings.Replace(s, "| 4.1s |", "| soon |", 1) },
		"no table":       func(s string) string { return strings.Replace(s, "| family |", "| kind |", 1) },
	} {
		if err := Check(mangle(good)); err == nil {
			t.Errorf("%s: Check accepted it", name)
		}
	}
}
