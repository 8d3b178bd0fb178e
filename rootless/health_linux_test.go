package rootless

import (
	"testing"
)

// TestHealthTransitions: each change of a daemon's Health closes the Changed channel of the one
// it replaces, Since moves only when State does, and readers get copies.
func TestHealthTransitions(t *testing.T) {
	d := &Daemon{changed: make(chan struct{})}
	d.health = Health{State: Healthy, Checks: []HealthCheck{CheckProcess, CheckAPI}, Changed: d.changed}
	first := d.Health()
	first.Checks[0] = "scribbled"
	if d.Health().Checks[0] != CheckProcess {
		t.Fatal("Health returned the daemon's own Checks slice")
	}
	he := &HealthError{Check: CheckAPI, Process: "dockerd", Detail: "did not answer", Status: -1}
	d.setHealth(func(h *Health) { h.State, h.Failures, h.Err = Unhealthy, 1, he })
	select {
	case <-first.Changed:
	default:
		t.Fatal("Changed of the replaced Health is still open")
	}
	second := d.Health()
	if second.State != Unhealthy || second.Failures != 1 || second.Err != he || second.Since.IsZero() {
		t.Fatalf("after a failed probe: %+v", second)
	}
	d.setHealth(func(h *Health) { h.Failures = 2 })
	third := d.Health()
	if !third.Since.Equal(second.Since) || third.Failures != 2 {
		t.Errorf("a change within one state moved Since (%v → %v) or lost Failures (%d)", second.Since, third.Since, third.Failures)
	}
	select {
	case <-third.Changed:
		t.Fatal("the newest Health's Changed is closed")
	case <-second.Changed:
	}
	d.setHealth(func(h *Health) { h.State, h.Err, h.Checks = Stopped, nil, nil })
	if last := d.Health(); last.State != Stopped || last.Checks != nil || last.Since.Before(second.Since) {
		t.Errorf("stopped: %+v", last)
	}
}
