//go:build linux

package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// row is one line of the report's table: a metric, how it reads, and its target.
type row struct {
	metric, title string
	// target is the target's text and test; nil for a metric without one. It gets the medians
	// of rootlessd, the anchor and the floor (0 when absent).
	target   func(rd, an, fl float64) bool
	goal     string
	floorIs  string // what the floor column holds, when not rootful dockerd
	explains string // what the metric is, for the notes
}

var rows = []row{
	{metric: mReady, title: "time to ready", goal: "≤ 0.85× anchor and ≤ 1.15× floor",
		target:   func(rd, an, fl float64) bool { return rd <= 0.85*an && (fl == 0 || rd <= 1.15*fl) },
		explains: "from the process start until GET /_ping answers (polled every 2 ms for every contender)"},
	{metric: mDockerd, title: "time until dockerd runs", explains: "(a diagnostic) from the process start until a dockerd process runs in the contender's tree, polled every millisecond: what the contender does before dockerd"},
	{metric: mFirst, title: "time to first container", goal: "≤ 0.85× anchor",
		target:   func(rd, an, _ float64) bool { return rd <= 0.85*an },
		explains: "from the process start until `docker run --rm` of the test image has printed its output, with `docker load` of the image after ready (a fresh data root has none)"},
	{metric: mMemory + "-pss", title: "added memory, PSS", goal: "≤ 1.0× anchor",
		target:   func(rd, an, _ float64) bool { return rd <= an },
		explains: "every process besides dockerd, containerd, the shims and the containers, while a container with a published port runs (after the throughput stream, when measured): rootlessd's engine helper, RootlessKit child, network program and proxies; the script's rootlesskit parent, child, network program and proxies"},
	{metric: mMemory + "-rss", title: "added memory, RSS", explains: "the same processes' resident sets (pages shared with other processes counted in full)"},
	{metric: mMemory + "-pss-host", title: "added PSS and the host program", explains: "rootlessd's added PSS plus the launcher itself, the program that embeds the SDK (the script has no such process: it execs rootlesskit)"},
	{metric: "pss/" + roleParent, title: "PSS: " + roleParent},
	{metric: "pss/" + roleChild, title: "PSS: " + roleChild},
	{metric: "pss/" + roleNet, title: "PSS: " + roleNet},
	{metric: "pss/" + roleProxy, title: "PSS: " + roleProxy},
	{metric: mThroughput, title: "-p throughput, one TCP stream", goal: "≥ 1.0× anchor", floorIs: "host loopback",
		target:   func(rd, an, _ float64) bool { return rd >= an },
		explains: "host → container through a published port (127.0.0.1), into the test image's TCP sink, which confirms the byte count; the floor is the same stream over the host's loopback"},
	{metric: mCheck, title: "host check", goal: "rootlessd ≤ 20 ms",
		target:   func(rd, _, _ float64) bool { return rd <= 20 },
		explains: "rootless.Check called once in a fresh process, against `dockerd-rootless-setuptool.sh check` from its start to its exit; each contender's checks share a runtime directory, as a login session's checks do"},
	{metric: mCheck + "-first", title: "host check, first of a session", explains: "(one sample, in the first round) the same, with the runtime directory still empty, as after a reboot or at a new login: rootlessd's probe answers are not kept yet"},
	{metric: mDensity, title: "density: all ready", goal: "≤ 0.85× anchor",
		target:   func(rd, an, _ float64) bool { return rd <= 0.85*an },
		explains: "daemons of one user started at once, until every one answers /_ping; all are then stopped at once and must leave no process"},
	{metric: mDensity + "-pss", title: "density: PSS per daemon", explains: "the PSS of every process of all the daemons' trees (dockerd and containerd included), divided by their number"},
	{metric: mShutdown, title: "shutdown, a container running", explains: "SIGTERM to the started process (as systemd stops the service) until it has exited; a container with a published port runs"},
}

// floorMargin says how much room a start target leaves above the floor (rootful dockerd, which
// pays for no namespace and no network driver), when it leaves little or none: the target
// (ms), the anchor's and the floor's medians.
func floorMargin(target, anchor, floor float64) string {
	const what = "the floor's %.0f ms (rootful dockerd in no user namespace, with no network driver)"
	switch room := target - floor; {
	case room < 0:
		return fmt.Sprintf(" Here 0.85× the anchor is %.0f ms, below "+what+": no rootless start can meet it on this stack.", target, floor)
	case room < 0.1*floor:
		return fmt.Sprintf(" Here 0.85× the anchor is %.0f ms, %.0f ms above "+what+": everything rootless (the namespaces, the network and port drivers) would have to fit in %.0f ms, where the script's takes %.0f ms.", target, room, floor, room, anchor-floor)
	}
	return ""
}

type line struct {
	row                  row
	stack, drivers       string
	rd, an, fl           *Record
	ratioAnchor, ratioFl float64
	met                  *bool
}

func lines(r *results) []line {
	var out []line
	type key struct{ stack, drivers string }
	var keys []key
	for _, rec := range r.Records {
		k := key{rec.Stack, rec.Drivers}
		if !containsKey(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, rw := range rows {
		for _, k := range keys {
			l := line{row: rw, stack: k.stack, drivers: k.drivers,
				rd: r.find(rw.metric, k.stack, k.drivers, cRootlessd),
				an: r.find(rw.metric, k.stack, k.drivers, cAnchor),
				fl: r.find(rw.metric, k.stack, k.drivers, cFloor)}
			if l.rd == nil && l.an == nil && l.fl == nil {
				continue
			}
			if l.rd != nil && l.an != nil && l.an.Median != 0 {
				l.ratioAnchor = l.rd.Median / l.an.Median
			}
			if l.rd != nil && l.fl != nil && l.fl.Median != 0 {
				l.ratioFl = l.rd.Median / l.fl.Median
			}
			if rw.target != nil && l.rd != nil && (l.an != nil || rw.metric == mCheck) {
				an, fl := 0.0, 0.0
				if l.an != nil {
					an = l.an.Median
				}
				if l.fl != nil && rw.floorIs == "" {
					fl = l.fl.Median
				}
				met := rw.target(l.rd.Median, an, fl)
				l.met = &met
			}
			out = append(out, l)
		}
	}
	return out
}

func containsKey[K comparable](ks []K, k K) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func format(rec *Record) string {
	if rec == nil {
		return "–"
	}
	v := rec.Median
	switch rec.Unit {
	case "ms":
		if v < 100 {
			return fmt.Sprintf("%.1f ms", v)
		}
		return fmt.Sprintf("%.0f ms", v)
	case "MiB":
		return fmt.Sprintf("%.1f MiB", v)
	case "Gbit/s":
		return fmt.Sprintf("%.2f Gbit/s", v)
	}
	return fmt.Sprintf("%.2f %s", v, rec.Unit)
}

func (l line) ratio() string {
	var parts []string
	if l.ratioAnchor != 0 {
		parts = append(parts, fmt.Sprintf("%.2f× anchor", l.ratioAnchor))
	}
	if l.ratioFl != 0 && l.row.floorIs == "" {
		parts = append(parts, fmt.Sprintf("%.2f× floor", l.ratioFl))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

func (l line) verdict() string {
	if l.met == nil {
		return ""
	}
	if *l.met {
		return "met (" + l.row.goal + ")"
	}
	return "**missed** (" + l.row.goal + ")"
}

// table is the report's table in Markdown.
func table(r *results) string {
	var b strings.Builder
	b.WriteString("| metric | stack | drivers | rootlessd | anchor | floor | ratio | target |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, l := range lines(r) {
		floor := format(l.fl)
		if l.fl != nil && l.row.floorIs != "" {
			floor += " (" + l.row.floorIs + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			l.row.title, l.stack, l.drivers, format(l.rd), format(l.an), floor, l.ratio(), l.verdict())
	}
	return b.String()
}

// markdown is docs/performance.md.
func markdown(r *results, o *options) string {
	var b strings.Builder
	m := r.Machine
	b.WriteString("# Performance: rootlessd against dockerd-rootless.sh and rootful dockerd\n\n")
	b.WriteString("<!-- Generated by `go run ./internal/bench` (as root); do not edit: run it again. -->\n\n")
	command := r.Command
	if command == "" {
		command = "go run ./internal/bench -json /tmp/bench.json"
	}
	fmt.Fprintf(&b, "Medians of %d interleaved rounds, measured on %s at commit %s by the command below, which took %.0f minutes. Reproduce it as root on a machine that `hack/provision` prepared (ROOTLESSD_TESTBED_USER picks the test user):\n\n", r.Rounds, m.Date.Format("2006-01-02 15:04 MST"), m.Commit, r.Minutes)
	b.WriteString("```\n" + command + "\n```\n\n")
	fmt.Fprintf(&b, "Machine: %s, %d cores (%s), %.0f GiB, kernel %s, %s. Load average (1, 5, 15 min): %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end.\n\n",
		m.OS, m.Cores, m.CPU, m.MemoryGiB, m.Kernel, m.Go, m.LoadStart[0], m.LoadStart[1], m.LoadStart[2], m.LoadEnd[0], m.LoadEnd[1], m.LoadEnd[2])
	if r.Failed != "" {
		fmt.Fprintf(&b, "> **This run failed** before it measured everything, so the table is incomplete: %s\n\n", strings.ReplaceAll(strings.SplitN(r.Failed, "\n", 2)[0], "|", "\\|"))
	}
	if m.UnderLoad() {
		fmt.Fprintf(&b, "> **Measured under load:** the machine's 1-minute load average was above %.1f (other work ran at the same time), so absolute times are inflated and the ratios noisier than on a quiet machine. Run the command above again on a quiet machine.\n\n", m.QuietLoad)
	}
	b.WriteString("Stacks:\n\n")
	for _, s := range r.Stacks {
		fmt.Fprintf(&b, "- **%s**: %s; %s\n", s.Name, s.Dockerd, strings.ReplaceAll(s.RootlessKit, "\n", " "))
	}
	if len(r.Skipped) > 0 {
		b.WriteString("\nDriver pairs not measured, because the stack's own rootlesskit (the anchor) cannot run them:\n\n")
		for _, sk := range r.Skipped {
			fmt.Fprintf(&b, "- %s\n", sk)
		}
	}
	b.WriteString("\nContenders: **rootlessd** is `examples/launcher` (the SDK's drop-in for the script, embedded RootlessKit); **anchor** is the stack's own `dockerd-rootless.sh` with the same drivers and environment; **floor** is the stack's rootful dockerd, started by root with private paths in private mount and network namespaces. rootlessd and the anchor run as the test user. Ratios are rootlessd's median over the other's.\n\n")
	b.WriteString(table(r))
	if o.chart != "" && o.doc != "" {
		rel, err := filepath.Rel(filepath.Dir(o.doc), o.chart)
		if err == nil {
			fmt.Fprintf(&b, "\n![rootlessd, anchor and floor, medians](%s)\n", rel)
		}
	}
	b.WriteString("\n## What is measured\n\n")
	for _, rw := range rows {
		if rw.explains != "" {
			fmt.Fprintf(&b, "- **%s**: %s.\n", rw.title, rw.explains)
		}
	}
	b.WriteString("\nThe starts of a contender share one runtime directory (XDG_RUNTIME_DIR) for the whole run, as a user's login session does, and each start has a fresh data root; the density daemons each need their own runtime directory (their sockets), which begins as a copy of the session's caches.\n")
	b.WriteString("\nEvery start must come up and every stop must leave no process of the test user (or, for the floor, none naming its directory); anything else fails the run.\n")
	b.WriteString("\n## Targets\n\n")
	var missed []line
	for _, l := range lines(r) {
		if l.met != nil && !*l.met {
			missed = append(missed, l)
		}
	}
	if len(missed) == 0 {
		b.WriteString("Every target with a measurement in this run is met.\n")
	}
	for _, l := range missed {
		fmt.Fprintf(&b, "- **%s, %s (%s)**: %s against %s; %s, the target is %s.", l.row.title, l.stack, l.drivers, format(l.rd), format(l.an), l.ratio(), l.row.goal)
		if (l.row.metric == mReady || l.row.metric == mFirst) && l.an != nil && l.fl != nil {
			b.WriteString(floorMargin(0.85*l.an.Median, l.an.Median, l.fl.Median))
		}
		if why := missedWhy[l.row.metric]; why != "" {
			b.WriteString(" " + why)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n" + speedups)
	return b.String()
}
