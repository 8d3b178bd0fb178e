package rootless

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWithWatchdog(t *testing.T) {
	c, err := newConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.watchdog; w.Interval != 10*time.Second || w.Timeout != 5*time.Second || w.Retries != 3 || w.Restart {
		t.Errorf("default watchdog %+v, want 10s, 5s, 3 retries, no restart", w)
	}
	c, err = newConfig([]Option{WithWatchdog(Watchdog{Interval: time.Second, Restart: true})})
	if err != nil || c.watchdog.Interval != time.Second || c.watchdog.Timeout != 5*time.Second || c.watchdog.Retries != 3 || !c.watchdog.Restart {
		t.Errorf("partial watchdog: %+v, %v; want the zero fields defaulted", c.watchdog, err)
	}
	for _, w := range []Watchdog{{Interval: time.Millisecond}, {Interval: -time.Second}, {Timeout: -1}, {Retries: -2}} {
		if _, err := newConfig([]Option{WithWatchdog(w)}); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithWatchdog") {
			t.Errorf("WithWatchdog(%+v): %v, want ErrInvalidOption", w, err)
		}
	}
}

func TestHealthStrings(t *testing.T) {
	for s, want := range map[HealthState]string{Healthy: "healthy", Unhealthy: "unhealthy", Restarting: "restarting", Stopped: "stopped", 9: "HealthState(9)"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
	for _, tt := range []struct {
		e    HealthError
		want string
	}{
		{HealthError{Check: CheckProcess, Process: "slirp4netns", PID: 7, Detail: "was killed by SIGKILL"}, "rootless: health: process: slirp4netns (pid 7) was killed by SIGKILL"},
		{HealthError{Check: CheckAPI, Process: "dockerd", Detail: "did not answer GET /_ping within 5s"}, "rootless: health: api: dockerd did not answer GET /_ping within 5s"},
		{HealthError{Check: CheckNetwork, Detail: "x"}, "rootless: health: network: x"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestVerdictCause: every verdict of the watchdog comes with a cause and a fix that names the
// restart option.
func TestVerdictCause(t *testing.T) {
	for _, v := range []*HealthError{
		{Check: CheckProcess, Process: "slirp4netns", Detail: "was killed by SIGKILL", Status: 9},
		{Check: CheckProcess, Process: "dockerd", Detail: "is stopped (state T)", Status: -1},
		{Check: CheckAPI, Process: "dockerd", Detail: "did not answer", Status: -1},
		{Check: CheckNetwork, Process: "slirp4netns", Detail: "does not forward", Status: -1},
	} {
		cause, fix := verdictCause(v)
		if cause == "" || !strings.Contains(fix, "Restart: true") {
			t.Errorf("%v: cause %q, fix %q", v, cause, fix)
		}
	}
}
