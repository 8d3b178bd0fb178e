package rootless

import (
	"context"
	"os/exec"
	"testing"
)

// BenchmarkProbes times each probe that Check starts, uncached: the overlay mount in a new user
// and mount namespace, and iptables's nat table in a new user and network namespace.
//
//	go test ./rootless -run '^$' -bench Probes
func BenchmarkProbes(b *testing.B) {
	h := localHost("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	ctx := context.Background()
	b.Run("overlay", func(b *testing.B) {
		dir := b.TempDir()
		for b.Loop() {
			if out, err := h.overlay(ctx, dir); err != nil {
				b.Skipf("no overlay in a user namespace here: %v %s", err, out)
			}
		}
	})
	b.Run("iptables", func(b *testing.B) {
		ipt, err := exec.LookPath("iptables")
		if err != nil {
			b.Skip(err)
		}
		for b.Loop() {
			if out, err := h.nsRun(ctx, []string{"XTABLES_LOCKFILE=/dev/null"}, ipt, "-w", "-t", "nat", "-N", "ROOTLESSD-PROBE"); err != nil {
				b.Skipf("iptables fails in a user namespace here: %v %s", err, out)
			}
		}
	})
	b.Run("userns", func(b *testing.B) {
		t, err := exec.LookPath("true")
		if err != nil {
			b.Skip(err)
		}
		for b.Loop() {
			if out, err := h.nsRun(ctx, nil, t); err != nil {
				b.Skipf("no user namespace here: %v %s", err, out)
			}
		}
	})
}
