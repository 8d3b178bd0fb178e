//go:build linux

// Command bench measures rootlessd against Docker's own scripts and against rootful dockerd, on
// every engine stack of the test bed, and writes the report: docs/performance.md, its chart,
// and (with -json) the raw records.
//
//	go run ./internal/bench                 # the full run: medians of 7, both stacks; rewrites the report
//	go run ./internal/bench -short          # CI: one round of a few metrics on one stack; fails on any error
//	go run ./internal/bench -rounds 9 -stacks current -metrics ready,first -json /tmp/b.json
//	go run ./internal/bench -render docs/performance.json   # the report again from a run's records
//
// It runs as root on a machine that hack/provision prepared. Three contenders run on each stack,
// interleaved round by round (the first of a round rotates, so none always runs on a warmer
// cache):
//
//   - rootlessd: examples/launcher, the SDK's drop-in replacement for dockerd-rootless.sh;
//   - anchor: that stack's dockerd-rootless.sh with the same drivers;
//   - floor: rootful dockerd of the same stack, run by root with private paths in private mount
//     and network namespaces (its bridge, firewall rules and /run never touch the host's).
//
// rootlessd and the anchor run as the test user (ROOTLESSD_TESTBED_USER, or -user), started with
// the same environment and arguments by [testbed.SpawnDropIn]. Every contender's readiness is
// seen the same way: GET /_ping polled every 2 ms ([testbed.WaitPing]).
//
// Each stack runs every driver pair of -drivers that its rootlesskit can (testbed.Matrix); the
// others are listed as skipped. check and density run with the first pair only: neither
// depends on the drivers' data path.
//
// The metrics (-metrics, all by default):
//
//	ready       process start until /_ping answers
//	first       process start until `docker run` of the test image has printed its output (the
//	            image is loaded with `docker load` after ready: a fresh data root has no images)
//	memory      PSS and RSS (/proc/PID/smaps_rollup) of what rootlessd adds besides dockerd,
//	            containerd, the shims and the containers (helper, RootlessKit child, network
//	            program, proxies), against the script's rootlesskit parent, child, network
//	            program and proxies; a container with a published port runs
//	throughput  one TCP stream of -bytes (2 GB) from the host into a container through a
//	            published port (the floor column: the same over the host's loopback)
//	shutdown    SIGTERM with a running container until the started process has exited
//	check       rootless.Check in a fresh process, against dockerd-rootless-setuptool.sh check
//	density     -density (8) daemons of one user started at once, until all answer /_ping;
//	            and the PSS of their whole trees per daemon; all must stop clean
//	dockerd     (a diagnostic, only when named) process start until dockerd runs: what
//	            the contender does before dockerd starts; its 1 ms /proc poll costs CPU
//
// Every start must come up, and every stop must leave no process of the test user: anything
// else fails the run. -short exists so that CI notices when the program rots; it fails on
// errors, never on ratios.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rootlessd/rootlessd/rootless"
)

func main() {
	rootless.Init() // the Check worker calls rootless.Check, which wants it
	switch os.Getenv(envRole) {
	case roleFloor:
		os.Exit(runFloorRole())
	case roleCheck:
		os.Exit(runCheckRole())
	}
	os.Exit(run())
}

type options struct {
	rounds    int
	short     bool
	stacks    []string
	drivers   []drivers
	metrics   map[string]bool
	user      string
	density   int
	bytes     int64
	jsonOut   string
	doc       string
	chart     string
	launcher  string
	verbose   bool
	loadLimit float64
	render    string
}

// defaultDrivers are the driver pairs of a full run: the network drivers of the bed that both
// the script and rootlessd run with the builtin port driver. Not by default (-drivers runs
// them): slirp4netns/slirp4netns, whose 0.25-1.6 Gbit/s make the 2 GB stream take a minute a
// sample; pasta/implicit, whose forwarding does not reach a port published on 127.0.0.1 (the
// stream's address) within a minute on the bed; and lxc-user-nic/builtin, whose start waits
// 4-5 s for DHCP and which failed once in 14 starts of the script on the current stack
// (lxc-user-nic could not rename its veth to eth0), ending a 25-minute run.
const defaultDrivers = "slirp4netns/builtin,gvisor-tap-vsock/builtin"

var allMetrics = []string{mReady, mFirst, mMemory, mThroughput, mShutdown, mCheck, mDensity}

// knownMetrics are allMetrics and the diagnostics one can ask for by name.
var knownMetrics = append(allMetrics, mDockerd)

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := &options{}
	fs.IntVar(&o.rounds, "rounds", 7, "rounds per stack and driver pair; each metric is the median of this many samples")
	fs.BoolVar(&o.short, "short", false, "CI mode: 1 round of ready, first, check and shutdown on one stack, no report files unless -doc/-chart/-json say so")
	stacks := fs.String("stacks", "", "comma-separated stacks (default: every stack of the bed; -short: current)")
	drv := fs.String("drivers", "", "comma-separated NET/PORT driver pairs, as DOCKERD_ROOTLESS_ROOTLESSKIT_NET/_PORT_DRIVER (default: "+defaultDrivers+"; -short: slirp4netns/builtin); a stack whose rootlesskit cannot run a pair skips it")
	metrics := fs.String("metrics", "", "comma-separated metrics: "+strings.Join(allMetrics, ",")+" (default: all; -short: ready,first,check,shutdown)")
	fs.StringVar(&o.user, "user", os.Getenv("ROOTLESSD_TESTBED_USER"), "test user (default: ROOTLESSD_TESTBED_USER, else the bed's first)")
	fs.IntVar(&o.density, "density", 8, "daemons started at once for the density metric")
	size := fs.String("bytes", "2GB", "bytes per throughput stream (GB, MB, or a number)")
	fs.StringVar(&o.jsonOut, "json", "", "write every record, with its samples, to this file")
	fs.StringVar(&o.doc, "doc", "", "write the report here (default: docs/performance.md; -short: none)")
	fs.StringVar(&o.chart, "chart", "", "write the chart here, .svg or .png (default: docs/performance.svg; -short: none)")
	fs.StringVar(&o.launcher, "launcher", "", "examples/launcher binary (default: $ROOTLESSD_EXAMPLES/launcher, else built)")
	fs.BoolVar(&o.verbose, "v", false, "print every sample")
	fs.StringVar(&o.render, "render", "", "measure nothing: write the report and chart again from this -json file of a run (after the notes changed)")
	fs.Float64Var(&o.loadLimit, "quiet-load", 1.5, "a 1-minute load average above this at the start or end marks the report as measured under load")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.short {
		if !isSet(fs, "rounds") {
			o.rounds = 1
		}
		if *stacks == "" {
			*stacks = "current"
		}
		if *metrics == "" {
			*metrics = strings.Join([]string{mReady, mFirst, mCheck, mShutdown}, ",")
		}
		if *drv == "" {
			*drv = "slirp4netns/builtin"
		}
	} else {
		if o.doc == "" {
			o.doc = "docs/performance.md"
		}
		if o.chart == "" {
			o.chart = "docs/performance.svg"
		}
	}
	if *drv == "" {
		*drv = defaultDrivers
	}
	if o.rounds < 1 {
		return nil, fmt.Errorf("-rounds %d: need at least 1", o.rounds)
	}
	if o.density < 1 {
		return nil, fmt.Errorf("-density %d: need at least 1", o.density)
	}
	if *stacks != "" {
		o.stacks = strings.Split(*stacks, ",")
	}
	for _, pair := range strings.Split(*drv, ",") {
		n, p, ok := strings.Cut(strings.TrimSpace(pair), "/")
		if !ok || n == "" || p == "" {
			return nil, fmt.Errorf("-drivers %q: want NET/PORT pairs such as slirp4netns/builtin", pair)
		}
		o.drivers = append(o.drivers, drivers{Net: n, Port: p})
	}
	o.metrics = map[string]bool{}
	if *metrics == "" {
		*metrics = strings.Join(allMetrics, ",")
	}
	for _, m := range strings.Split(*metrics, ",") {
		m = strings.TrimSpace(m)
		if !contains(knownMetrics, m) {
			return nil, fmt.Errorf("-metrics: unknown metric %q (known: %s)", m, strings.Join(knownMetrics, ", "))
		}
		o.metrics[m] = true
	}
	n, err := parseBytes(*size)
	if err != nil {
		return nil, fmt.Errorf("-bytes: %w", err)
	}
	o.bytes = n
	return o, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GB", 1e9}, {"MB", 1e6}, {"GiB", 1 << 30}, {"MiB", 1 << 20}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return n * mult, nil
}

func run() int {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if o.render != "" {
		r, err := readResults(o.render)
		if err == nil {
			o.jsonOut = "" // the records stay as they were measured
			err = write(r, o)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		return 0
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: run as root: it starts the rootless contenders as the test user and the rootful floor as root")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	b, err := newBench(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer b.close()
	res, err := b.run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAIL:", err)
		if o.jsonOut != "" && res != nil && len(res.Records) > 0 {
			// What was measured before the failure, for a look; the report is not written.
			res.Failed = err.Error()
			res.Minutes = time.Since(start).Minutes()
			if werr := write(res, &options{jsonOut: o.jsonOut}); werr == nil {
				fmt.Fprintf(os.Stderr, "bench: the records measured before the failure are in %s\n", o.jsonOut)
			}
		}
		return 1
	}
	res.Minutes = time.Since(start).Minutes()
	res.Command = strings.TrimSpace("ROOTLESSD_TESTBED_USER=" + b.user.Name + " go run ./internal/bench " + strings.Join(os.Args[1:], " "))
	if err := b.write(res); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "bench: done in %s\n", time.Since(start).Round(time.Second))
	return 0
}
