//go:build integration

package integration

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/rootless"
)

// watchdogScenarios: the network process dies, hangs or stops forwarding; the watchdog must
// see it, and with Restart restart the daemon in place with its data. (SIGKILL and SIGSTOP of
// slirp4netns without Restart are in the kill and hang families.)
var watchdogScenarios = []scenario{
	{name: "network stops forwarding (tap traffic dropped)", shared: true, f: dropTap(false)},
	{name: "restart in place: network stops forwarding", shared: true, checked: true, f: dropTap(true)},
	{name: "restart in place: SIGKILL network process", shared: true, checked: true, f: restartAfterKill("network")},
	{name: "restart in place: SIGKILL dockerd", checked: true, f: restartAfterKill("dockerd")},
}

// fastWatchdog probes three times a second and gives up after two failures.
func fastWatchdog(restart bool) rootless.Option {
	return rootless.WithWatchdog(rootless.Watchdog{Interval: 300 * time.Millisecond, Timeout: 700 * time.Millisecond, Retries: 2, Restart: restart})
}

// armed waits until the watchdog's network check runs (a first datagram came back).
func armed(t *testing.T, d *rootless.Daemon) {
	t.Helper()
	awaitHealth(t, d, 30*time.Second, func(h rootless.Health) bool { return slices.Contains(h.Checks, rootless.CheckNetwork) })
}

// dropTap drops everything that comes into the namespace through tap0, as a network process
// that silently stops forwarding would (moby#51248): what is sent gets no answer. (Dropping it
// on the way out instead would fail the sender at once with EPERM, which a silent network
// process never does.)
func dropTap(restart bool) func(t *testing.T, fx *fixture, row *faultRow) {
	return func(t *testing.T, fx *fixture, row *faultRow) {
		d, _ := launchLogged(t, fx.opts(rootless.WithStopTimeout(2*time.Second), fastWatchdog(restart))...)
		armed(t, d)
		out, err := d.Command(t.Context(), "sh", "-c", "iptables -I INPUT -i tap0 -j DROP && iptables -I FORWARD -i tap0 -j DROP").CombinedOutput()
		if err != nil {
			t.Fatalf("drop tap0's traffic: %v\n%s", err, out)
		}
		start := time.Now()
		h := awaitHealth(t, d, time.Minute, func(h rootless.Health) bool { return h.State == rootless.Unhealthy })
		row.Detect, row.DetectWhat = time.Since(start), "until Health was unhealthy"
		he, ok := errors.AsType[*rootless.HealthError](h.Err)
		if !ok || he.Check != rootless.CheckNetwork || !strings.Contains(he.Detail, "does not forward") {
			t.Fatalf("Health.Err = %v, want the network check's failure", h.Err)
		}
		if !restart {
			await(t, d.Done(), 2*time.Minute, "Done after the network stopped forwarding")
			ee := exitOf(t, d)
			row.Seen = short(ee)
			if he, ok := errors.AsType[*rootless.HealthError](ee); !ok || he.Check != rootless.CheckNetwork {
				t.Errorf("the ExitError does not carry the network check's failure: %v", ee)
			}
			return
		}
		h = awaitHealth(t, d, 2*time.Minute, func(h rootless.Health) bool { return h.State == rootless.Healthy && h.Restarts == 1 })
		row.Seen = fmt.Sprintf("%s; restarted in place, healthy again (restarts: %d)", short(he), h.Restarts)
		checkAfterRestart(t, fx, d, row)
	}
}

// restartAfterKill: with Restart, a killed network process or dockerd is followed by a restart
// in place; the daemon keeps its data, and Done stays open.
func restartAfterKill(role string) func(t *testing.T, fx *fixture, row *faultRow) {
	return func(t *testing.T, fx *fixture, row *faultRow) {
		d, _ := launchLogged(t, fx.opts(rootless.WithStopTimeout(2*time.Second), fastWatchdog(true))...)
		pid := onePID(t, d, role)
		oldEngine := d.PID()
		start := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		h := awaitHealth(t, d, 2*time.Minute, func(h rootless.Health) bool { return h.State == rootless.Healthy && h.Restarts == 1 })
		row.Detect, row.DetectWhat = time.Since(start), "until healthy again after the restart"
		if d.PID() == oldEngine || onePID(t, d, role) == pid {
			t.Errorf("the tree was not replaced (engine %d, %s %d)", d.PID(), role, pid)
		}
		row.Seen = fmt.Sprintf("restarted in place after %s was killed; healthy, restarts: %d", role, h.Restarts)
		checkAfterRestart(t, fx, d, row)
	}
}

// checkAfterRestart: the restarted daemon serves the fixture's image and container, and Done
// is still open; then it stops cleanly.
func checkAfterRestart(t *testing.T, fx *fixture, d *rootless.Daemon, row *faultRow) {
	t.Helper()
	select {
	case <-d.Done():
		t.Fatalf("Done closed although the daemon was restarted: %v", d.Err())
	default:
	}
	row.DataKept = checkData(t, fx, d)
	if err := d.Close(); err != nil {
		t.Errorf("Close after the restart: %v", err)
	}
	if err := d.Err(); err != nil {
		t.Errorf("Err after Close: %v", err)
	}
}
