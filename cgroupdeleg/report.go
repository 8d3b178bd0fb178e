package cgroupdeleg

import (
	"fmt"
	"strings"
)

// String renders r as a human-readable summary, findings last, each with
// its fix indented below it.
func (r *Report) String() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	user := fmt.Sprint(r.UID)
	if r.User != "" {
		user += " (" + r.User + ")"
	}
	p("uid: %s; wants %s", user, listOr(r.Wanted, "nothing"))
	p("mode: %s", r.Mode)
	sd := "not PID 1"
	if r.Systemd {
		sd = "PID 1"
	}
	if r.SystemdVersion > 0 {
		sd += fmt.Sprintf(", version %d", r.SystemdVersion)
	}
	p("systemd: %s", sd)
	p("user manager: %s; bus: %s; runtime dir: %s; linger: %s",
		yesNo(r.UserManager, "running", "none"), listOr(nonEmpty(r.UserBus), "none"),
		listOr(nonEmpty(r.RuntimeDir), "unset"), yesNo(r.Linger, "on", "off"))
	p("Delegate=: %s", r.Delegate)
	for _, a := range r.Assignments {
		p("  %s", a)
	}
	p("cgroup root: %s", r.CgroupRoot)
	p("service cgroup: %s", listOr(nonEmpty(r.ServiceCgroup), "none"))
	p("cgroup: %s", listOr(nonEmpty(r.Cgroup), "none"))
	p("available: %s", listOr(r.Available, "none"))
	p("delegated: %s", listOr(r.Delegated, "none"))
	p("missing: %s", listOr(r.Missing, "none"))
	if len(r.NotOwned) > 0 {
		p("not owned: %s", strings.Join(r.NotOwned, " "))
	}
	own := listOr(nonEmpty(r.OwnCgroup), "unknown")
	if r.OwnCgroup != "" {
		own += " (" + yesNo(r.OwnCgroupWritable, "writable", "not writable") + ")"
	}
	p("own cgroup: %s", own)
	if len(r.Findings) == 0 {
		p("findings: none")
		return b.String()
	}
	p("findings:")
	for _, f := range r.Findings {
		p("  %s %s: %s", f.Severity, f.ID, f.Detail)
		if f.Evidence != "" {
			p("    evidence: %s", f.Evidence)
		}
		if f.Fix != "" {
			p("    fix:")
			for l := range strings.SplitSeq(f.Fix, "\n") {
				p("      %s", l)
			}
		}
	}
	return b.String()
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
