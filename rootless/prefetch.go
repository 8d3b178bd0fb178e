package rootless

import (
	"context"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// prefetchDrivers runs the network drivers' probes (slirp4netns --help and --version, pasta
// --version, ...) while the host checks and the dockerd probe run, instead of after them: each
// is a process start. It decides nothing: the probes' answers are memoised by the resolve's host
// (host.once), so that resolveDrivers, which makes the choice with the RootlessKit that will run
// them, finds them answered. Drivers of other packages are left alone: their Check runs once.
func (r *resolver) prefetchDrivers(ctx context.Context) {
	w := r.c.wants()
	if w.net != nil {
		if _, err := netdriver.Encode(w.net); err != nil {
			return
		}
	}
	if w.port != nil {
		if _, err := portdriver.Encode(w.port); err != nil {
			return
		}
	}
	_, _ = selectDrivers(ctx, r.h.net, w, netdriver.LinkedRootlessKit)
}
