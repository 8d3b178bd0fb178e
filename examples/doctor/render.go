package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/rootless"
)

// ANSI styles.
const (
	bold   = "1"
	dim    = "2"
	red    = "1;31"
	yellow = "1;33"
	cyan   = "36"
	green  = "1;32"
)

// useColor reports whether w is a terminal and NO_COLOR (https://no-color.org) is unset.
func useColor(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 // a terminal (or /dev/null), not a pipe or file
}

// painter returns a function that wraps text in an ANSI style when color is on.
func painter(color bool) func(style, text string) string {
	return func(style, text string) string {
		if !color || text == "" {
			return text
		}
		return "\x1b[" + style + "m" + text + "\x1b[0m"
	}
}

// writeText writes the report for people: what Launch and Docker will do, then the findings
// grouped by severity, worst first, each with its evidence and fix, and a verdict.
func writeText(w io.Writer, rep *rootless.Report, color bool) {
	p := painter(color)
	heading := func(s string) { fmt.Fprintf(w, "\n%s\n", p(bold, s)) }
	item := func(label, value string, reasons []string) {
		fmt.Fprintf(w, "  %-13s %s\n", label+":", value)
		for _, r := range reasons {
			fmt.Fprintf(w, "  %-13s %s\n", "", p(dim, "- "+r))
		}
	}
	fmt.Fprintf(w, "%s on %s\n", p(bold, "rootless Docker doctor"), rep.Distro)

	if pl := rep.Plan; pl != nil && pl.Engine != rootless.EngineAuto {
		heading("Launch will run")
		eng := pl.Engine.String() + ", " + pl.RootlessKit.String()
		if pl.Fallback != nil {
			eng += "; falls back to " + pl.Fallback.String()
		}
		item("engine", eng, pl.Reasons.Engine)
		if pl.Dockerd.Path != "" {
			item("dockerd", pl.Dockerd.Path+" "+pl.Dockerd.Version, nil)
		}
		if pl.Network != nil {
			item("network", pl.Network.Name(), pl.Reasons.Network)
		}
		if pl.Port != nil {
			item("port driver", pl.Port.Name(), pl.Reasons.Port)
		}
		if pl.MTU != 0 {
			item("mtu", fmt.Sprint(pl.MTU), nil)
		}
		if pl.Network != nil {
			item("detach-netns", fmt.Sprint(pl.DetachNetNS), pl.Reasons.DetachNetNS)
		}
		if pl.Paths.Socket != "" {
			item("socket", pl.Paths.Socket, nil)
			item("data root", pl.Paths.DataRoot, nil)
		}
	}
	heading("Docker will use")
	s, c := rep.Docker.Storage, rep.Docker.Cgroups
	storage := orUnknown(s.Driver)
	if s.Snapshotter {
		storage += " (containerd image store)"
	}
	if s.Driver == "vfs" || s.Driver == "native" {
		storage = p(red, storage+": a full copy of every layer")
	}
	item("storage", storage, s.Reasons)
	cg := orUnknown(c.Driver)
	if c.Version > 0 {
		cg += fmt.Sprintf(" (cgroup v%d)", c.Version)
	}
	item("cgroups", cg, c.Reasons)
	if len(c.IgnoredFlags) > 0 {
		item("ignored", "docker run "+strings.Join(c.IgnoredFlags, " "), nil)
	}

	groups := []struct {
		sev    diag.Severity
		title  string
		mark   string
		style  string
		prefix string
	}{
		{diag.Error, "Errors: the daemon will not start or work until these are fixed", "✗", red, "error"},
		{diag.Warning, "Warnings: it works, with something lost or degraded", "!", yellow, "warning"},
		{diag.Info, "Notes", "i", cyan, "info"},
	}
	count := map[diag.Severity]int{}
	for _, f := range rep.Findings {
		count[f.Severity]++
	}
	for _, g := range groups {
		if count[g.sev] == 0 {
			continue
		}
		heading(fmt.Sprintf("%s (%d)", g.title, count[g.sev]))
		for _, f := range rep.Findings {
			if f.Severity != g.sev {
				continue
			}
			fmt.Fprintf(w, "  %s %s\n", p(g.style, g.mark+" "+string(f.ID)+":"), f.Detail)
			if f.Evidence != "" {
				fmt.Fprintf(w, "      %s %s\n", p(dim, "evidence:"), f.Evidence)
			}
			if f.Fix != "" {
				if strings.Contains(f.Fix, "\n") {
					fmt.Fprintf(w, "      %s\n        %s\n", p(bold, "fix:"), strings.ReplaceAll(f.Fix, "\n", "\n        "))
				} else {
					fmt.Fprintf(w, "      %s %s\n", p(bold, "fix:"), f.Fix)
				}
			}
		}
	}
	fmt.Fprintln(w)
	summary := fmt.Sprintf("%d %s, %d %s, %d %s", count[diag.Error], plural(count[diag.Error], "error"),
		count[diag.Warning], plural(count[diag.Warning], "warning"), count[diag.Info], plural(count[diag.Info], "note"))
	if count[diag.Error] > 0 {
		fmt.Fprintf(w, "%s: %s\n", summary, p(red, "rootless Docker will not run here until the errors are fixed"))
	} else {
		fmt.Fprintf(w, "%s: %s\n", summary, p(green, "rootless Docker can run here"))
	}
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
