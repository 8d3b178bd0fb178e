package setup

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// DropIn is the name of the drop-in that holds the daemon's settings, in UNIT.d/. It sorts
// before override.conf, the drop-in Docker's documentation tells people to write, so that
// their own overrides still win.
const DropIn = "10-rootlessd.conf"

// SystemPath is what the unit's PATH ends with, after the directories of the daemon's programs:
// iptables lives in /usr/sbin, which Debian gives users no PATH to.
const SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const unitHeader = "# Written by rootlessd's setup (github.com/rootlessd/rootlessd/rootless/setup).\n" +
	"# The daemon's settings are in %s.d/" + DropIn + "; your own overrides go in\n" +
	"# %s.d/override.conf. Running the installer again reports any change made here.\n"

const dropInHeader = "# Written by rootlessd's setup: the daemon's settings, as the environment variables of\n" +
	"# dockerd-rootless.sh that its launcher reads. To change them, run the installer again, or\n" +
	"# edit this file and run: systemctl --user daemon-reload && systemctl --user restart %s\n"

// serviceUnit is the unit that runs the launcher, with the semantics of the one
// dockerd-rootless-setuptool.sh writes:
//   - Type=notify with NotifyAccess=all: started means the API answers (the launcher sends
//     READY=1 after rootless.Launch returns);
//   - Delegate=yes gives the daemon a cgroup subtree (cgroup v2 resource limits);
//   - KillMode=mixed: SIGTERM to the launcher, which stops dockerd cleanly, then SIGKILL to
//     whatever is left;
//   - Restart=always with Docker's rate limit, and no limits on files, processes and core size;
//   - Requires=dbus.socket where the user has a D-Bus socket unit (dockerd's systemd cgroup
//     driver talks to the user manager over D-Bus).
func serviceUnit(launcher, path string, dbus bool) []*unit.UnitOption {
	o := unit.NewUnitOption
	opts := []*unit.UnitOption{
		o("Unit", "Description", "Docker Application Container Engine (Rootless)"),
		o("Unit", "Documentation", "https://docs.docker.com/go/rootless/"),
	}
	if dbus {
		opts = append(opts, o("Unit", "Requires", "dbus.socket"))
	}
	return append(opts,
		o("Unit", "StartLimitIntervalSec", "60s"),
		o("Unit", "StartLimitBurst", "3"),
		o("Service", "Environment", envAssignment("PATH="+path)),
		o("Service", "ExecStart", execArg(launcher)+" $"+EnvDockerdFlags),
		o("Service", "ExecReload", "/bin/kill -s HUP $MAINPID"),
		o("Service", "TimeoutSec", "0"),
		o("Service", "RestartSec", "2"),
		o("Service", "Restart", "always"),
		o("Service", "LimitNOFILE", "infinity"),
		o("Service", "LimitNPROC", "infinity"),
		o("Service", "LimitCORE", "infinity"),
		o("Service", "TasksMax", "infinity"),
		o("Service", "Delegate", "yes"),
		o("Service", "Type", "notify"),
		o("Service", "NotifyAccess", "all"),
		o("Service", "KillMode", "mixed"),
		o("Install", "WantedBy", "default.target"),
	)
}

// dropInUnit holds the settings: one Environment= line per variable.
func dropInUnit(env []string) []*unit.UnitOption {
	var opts []*unit.UnitOption
	for _, kv := range env {
		opts = append(opts, unit.NewUnitOption("Service", "Environment", envAssignment(kv)))
	}
	return opts
}

// renderUnit serializes opts after a comment header. A unit without options still gets its
// section, so that an empty drop-in is a valid one.
func renderUnit(header string, opts []*unit.UnitOption, emptySection string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	if len(opts) == 0 {
		b.WriteString("[" + emptySection + "]\n")
		return b.Bytes()
	}
	_, _ = io.Copy(&b, unit.Serialize(opts))
	return b.Bytes()
}

// parseUnit reads a unit file or drop-in with go-systemd's parser.
func parseUnit(data []byte) ([]*unit.UnitOption, error) {
	return unit.DeserializeOptions(bytes.NewReader(data))
}

// sameUnit reports whether two unit files set the same options in the same order; comments
// and blank lines do not count.
func sameUnit(a, b []byte) (bool, error) {
	oa, err := parseUnit(a)
	if err != nil {
		return false, err
	}
	ob, err := parseUnit(b)
	if err != nil {
		return false, err
	}
	return unit.AllMatch(oa, ob), nil
}

// envAssignment is the value of an Environment= line for KEY=VALUE: quoted when it contains
// white space, with systemd's specifier character % doubled.
func envAssignment(kv string) string {
	kv = strings.ReplaceAll(kv, "%", "%%")
	if strings.ContainsAny(kv, " \t") {
		return `"` + kv + `"`
	}
	return kv
}

// execArg is one word of an Exec*= line: % and $ doubled, quoted when it contains white space.
func execArg(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if strings.ContainsAny(s, " \t") {
		return `"` + s + `"`
	}
	return s
}

// unquoteEnv undoes envAssignment: the KEY=VALUE of an Environment= value.
func unquoteEnv(v string) []string {
	var out []string
	for _, w := range splitQuoted(v) {
		out = append(out, strings.ReplaceAll(w, "%%", "%"))
	}
	return out
}

// splitQuoted splits an Environment= value into its assignments: words separated by white
// space, each possibly in double quotes.
func splitQuoted(v string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, c := range v {
		switch {
		case c == '"':
			inQuote, have = !inQuote, true
		case (c == ' ' || c == '\t') && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// unitEnv returns the variables a unit file's Environment= lines set, in order.
func unitEnv(opts []*unit.UnitOption) []string {
	var env []string
	for _, o := range opts {
		if o.Section == "Service" && o.Name == "Environment" {
			env = append(env, unquoteEnv(o.Value)...)
		}
	}
	return env
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}

func unitHeaderFor(name string) string   { return fmt.Sprintf(unitHeader, name, name) }
func dropInHeaderFor(name string) string { return fmt.Sprintf(dropInHeader, name) }
