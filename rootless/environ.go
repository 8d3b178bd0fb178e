package rootless

import (
	"slices"
	"strings"
)

// The daemon's environment is an allow-list. A host program's environment holds its secrets
// (tokens, cloud credentials, CI variables), and everything in the daemon's tree could hand them
// on: RootlessKit's child is PID 1 of the namespace, where `docker run --pid=host` reads
// /proc/1/environ. So by default dockerd, RootlessKit and the network programs get only the
// caller's variables of daemonEnv; what [WithEnviron] passes is taken as chosen, apart from
// the variables Launch sets or that belong to the caller's own session.

// daemonEnv lists what the daemon inherits from os.Environ() when WithEnviron is not used:
// variables by name, and prefixes ending in "*". Proxies (dockerd pulls through them; they may
// carry a proxy password, which dockerd needs), time zone and locale, temporary directories, TLS
// trust, the D-Bus session (the systemd cgroup driver), the XDG config and data homes (dockerd
// reads daemon.json and CDI specs there), the login name, and the Go runtime's knobs.
var daemonEnv = []string{
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "FTP_PROXY",
	"http_proxy", "https_proxy", "no_proxy", "all_proxy", "ftp_proxy",
	"TZ", "LANG", "LANGUAGE", "LC_*",
	"TMPDIR", "DOCKER_TMPDIR",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"DBUS_SESSION_BUS_ADDRESS",
	"XDG_CONFIG_HOME", "XDG_DATA_HOME",
	"USER", "LOGNAME",
	"GODEBUG", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GOTRACEBACK", "GOCOVERDIR",
}

// reservedEnv never reaches the daemon's tree, not even through WithEnviron: Launch sets the
// first ones itself, and the others address the caller's own session (systemd's notification
// socket and watchdog, socket activation, the docker CLI's daemon, dockerd-rootless.sh's
// settings, an outer engine's keys).
func reservedEnv(k string) bool {
	switch k {
	case "PATH", "HOME", "XDG_RUNTIME_DIR",
		"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
		"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKERD":
		return true
	}
	for _, p := range []string{"LISTEN_", "ROOTLESSKIT_", "_ROOTLESSD_", "_DOCKERD_ROOTLESS_", "DOCKERD_ROOTLESS_"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// allowedEnv reports whether daemonEnv lists k.
func allowedEnv(k string) bool {
	return slices.ContainsFunc(daemonEnv, func(a string) bool {
		if p, ok := strings.CutSuffix(a, "*"); ok {
			return strings.HasPrefix(k, p)
		}
		return a == k
	})
}

// daemonEnviron is what the daemon's tree inherits of the caller's environment: everything
// WithEnviron passed, or the allow-listed part of os.Environ(); never the reserved variables.
func (c *config) daemonEnviron() []string {
	var out []string
	for _, kv := range c.environ {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || reservedEnv(k) || !c.environSet && !allowedEnv(k) {
			continue
		}
		out = append(out, kv)
	}
	return out
}
