package rootless

import (
	"fmt"
	"strconv"
	"time"
)

// Watchdog configures the health watchdog that watches every Daemon's process tree
// ([WithWatchdog]). The zero value holds the defaults.
//
// The watchdog sees the network process exit within half a second (nothing else watches it:
// RootlessKit leaves it a zombie; the half second tells its death alone from that of its whole
// tree), and probes the daemon every Interval:
//
//   - process: the engine helper (or rootlesskit), RootlessKit's child, the network program,
//     dockerd and containerd are alive and not stopped (SIGSTOP, a debugger);
//   - api: dockerd answers GET /_ping within Timeout;
//   - network: a datagram sent from the containers' network namespace to an address of the
//     host comes back through the network driver within Timeout. This check arms itself once
//     the first datagram got through: on hosts where none can (no address besides loopback, a
//     firewall, pasta, which copies the host's address into the namespace), only the network
//     program's process is watched. Health.Checks says which checks run.
//
// A probe costs a GET on the API socket, a datagram each way and a read of five /proc stat
// files; the watchdog never polls faster than Interval.
//
// When a watched process exits, or probes fail Retries times in a row, the daemon is broken:
// the watchdog stops it (SIGTERM, and after the stop timeout SIGKILL of the tree), Done is
// closed and Err is an *ExitError whose Err is the *HealthError found. With Restart, it
// restarts the daemon in place instead (and after any unexpected exit too): same plan,
// directories and data root, so images, containers and volumes are kept; the containers are
// stopped with the old dockerd, and come back as their restart policies say. Ports added with
// Daemon.Ports at run time are not restored; those of WithPublish are. A restart that fails to
// start ends the daemon with the StartError in its ExitError.
type Watchdog struct {
	// Interval is the time between two probes. Default: 10s; at least 100ms.
	Interval time.Duration
	// Timeout bounds each probe of the API and of the network. Default: 5s.
	Timeout time.Duration
	// Retries is how many probes in a row must fail before the daemon is broken. Default: 3,
	// so a daemon that hangs is seen after about Retries × Interval.
	Retries int
	// Restart restarts a broken daemon, or one that exited unexpectedly, in place instead of
	// leaving it stopped. Default: false.
	Restart bool
}

// Defaults of the watchdog.
const (
	defaultWatchInterval = 10 * time.Second
	defaultWatchTimeout  = 5 * time.Second
	defaultWatchRetries  = 3
	minWatchInterval     = 100 * time.Millisecond
)

// withDefaults fills in the zero fields.
func (w Watchdog) withDefaults() Watchdog {
	if w.Interval == 0 {
		w.Interval = defaultWatchInterval
	}
	if w.Timeout == 0 {
		w.Timeout = defaultWatchTimeout
	}
	if w.Retries == 0 {
		w.Retries = defaultWatchRetries
	}
	return w
}

// WithWatchdog configures the health watchdog; see [Watchdog] for what it watches and does.
// Default: Watchdog{}, which probes every 10s with a 5s timeout, stops the daemon after 3
// failed probes in a row or when a process of its tree exits, and does not restart it. Later
// calls replace earlier ones.
func WithWatchdog(w Watchdog) Option {
	return optionFunc(func(c *config) error {
		switch {
		case w.Interval < 0 || w.Interval > 0 && w.Interval < minWatchInterval:
			return optionError("WithWatchdog", "Interval %v is below %v", w.Interval, minWatchInterval)
		case w.Timeout < 0:
			return optionError("WithWatchdog", "Timeout %v is negative", w.Timeout)
		case w.Retries < 0:
			return optionError("WithWatchdog", "Retries %d is negative", w.Retries)
		}
		c.watchdog = w.withDefaults()
		return nil
	})
}

// HealthState is where a daemon stands, as its watchdog last saw it.
type HealthState int

const (
	// Healthy: the last probe passed (or none has failed since Launch or the last restart).
	Healthy HealthState = iota
	// Unhealthy: the last probe failed; the daemon is broken after Watchdog.Retries in a row.
	Unhealthy
	// Restarting: the watchdog is restarting the daemon in place (Watchdog.Restart).
	Restarting
	// Stopped: the daemon has exited; Done is closed.
	Stopped
)

func (s HealthState) String() string {
	switch s {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	case Restarting:
		return "restarting"
	case Stopped:
		return "stopped"
	}
	return "HealthState(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the state as its String form.
func (s HealthState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// HealthCheck names one of the watchdog's checks.
type HealthCheck string

// The watchdog's checks; see [Watchdog].
const (
	CheckProcess HealthCheck = "process"
	CheckAPI     HealthCheck = "api"
	CheckNetwork HealthCheck = "network"
)

// Health is a daemon's health as its watchdog last saw it ([Daemon.Health]). To follow it,
// wait for Changed and read Health again:
//
//	for h := d.Health(); h.State != rootless.Stopped; h = d.Health() {
//		log.Printf("daemon %s: %v", h.State, h.Err)
//		<-h.Changed
//	}
type Health struct {
	State HealthState
	// Failures counts the probes in a row that failed; 0 when Healthy.
	Failures int
	// Err is what the last failed probe found (a *HealthError) while Unhealthy or Restarting;
	// once Stopped, the daemon's exit (Err()); nil otherwise.
	Err error
	// Restarts counts the watchdog's restarts in place since Launch.
	Restarts int
	// Checks are the checks the watchdog runs on the daemon now.
	Checks []HealthCheck
	// Since is when State last changed.
	Since time.Time
	// Changed is closed when this Health has been replaced by a newer one. A Stopped Health
	// is the last: its Changed is never closed.
	Changed <-chan struct{}
}

// HealthError is what a probe of the watchdog found wrong.
type HealthError struct {
	Check HealthCheck
	// Process is the process concerned ("slirp4netns", "dockerd", "RootlessKit's child");
	// "" when the check is not about one process. PID is its process id.
	Process string
	PID     int
	// Detail says what was seen: "was killed by SIGKILL", "is stopped (state T)", "did not
	// answer GET /_ping within 5s".
	Detail string
	// Status is the wait status of a process that exited (Detail says it in words); -1
	// otherwise.
	Status int
}

func (e *HealthError) Error() string {
	s := "rootless: health: " + string(e.Check) + ": "
	if e.Process != "" {
		s += e.Process
		if e.PID > 0 {
			s += fmt.Sprintf(" (pid %d)", e.PID)
		}
		s += " "
	}
	return s + e.Detail
}

// verdictCause explains a watchdog verdict.
func verdictCause(v *HealthError) (cause, fix string) {
	restart := "WithWatchdog(rootless.Watchdog{Restart: true}) restarts the daemon in place, keeping its data"
	switch {
	case v.Check == CheckProcess && v.Status >= 0:
		return v.Process + " " + v.Detail + ": without it the daemon's containers have no network, and RootlessKit cannot start it again",
			restart + "; to find what ended it, look for the OOM killer in dmesg or for a kill in the host's logs"
	case v.Check == CheckProcess:
		return v.Process + " " + v.Detail, "find what stops it (a debugger, kill -STOP, a frozen cgroup); " + restart
	case v.Check == CheckAPI:
		return "dockerd stopped answering its API", restart + "; the daemon's log says what it was doing"
	default:
		return "traffic no longer gets through the network driver " + v.Process + " (moby#51248)", restart
	}
}
