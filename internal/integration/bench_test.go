//go:build integration

package integration

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// BenchmarkTimeToReady starts a daemon through the stack's own dockerd-rootless.sh (the
// anchor) and through rootless.Launch, alternately, b.N times each, and reports the medians of
// the time until the Docker API answers and their ratio, plus the peak RSS of the process that
// runs RootlessKit's parent (the rootlesskit binary for the script, the engine helper for
// Launch). Each start uses a fresh state directory and data root.
//
//	go test -tags integration -run '^$' -bench TimeToReady -benchtime 9x ./internal/integration/
func BenchmarkTimeToReady(b *testing.B) {
	bed := testbed.Require(b)
	for _, stack := range bed.Stacks {
		b.Run(stack.Name, func(b *testing.B) {
			u := bed.Self()
			var script, launched []time.Duration
			var scriptRSS, launchRSS []int
			i := 0
			for b.Loop() {
				runScript := func() {
					d := testbed.StartScript(b, bed, stack)
					script = append(script, d.Ready)
					scriptRSS = append(scriptRSS, peakRSS(d.PID()))
					if err := d.Stop(); err != nil {
						b.Fatal(err)
					}
				}
				runLaunch := func() {
					start := time.Now()
					d, err := rootless.Launch(b.Context(),
						rootless.WithStateDir(testbed.ScratchDir(b, bed, stack, u.RuntimeDir)),
						rootless.WithDataRoot(testbed.ScratchDir(b, bed, stack, u.Home)),
						rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}}))
					if err != nil {
						b.Fatal(err)
					}
					launched = append(launched, time.Since(start))
					launchRSS = append(launchRSS, peakRSS(d.PID()))
					if err := d.Close(); err != nil {
						b.Fatal(err)
					}
				}
				if i%2 == 0 { // alternate the order, so that neither always runs on a warmer cache
					runScript()
					runLaunch()
				} else {
					runLaunch()
					runScript()
				}
				i++
				testbed.AssertNoProcesses(b, 10*time.Second)
			}
			ms, ml := median(script), median(launched)
			b.ReportMetric(float64(ms.Milliseconds()), "script-ready-ms")
			b.ReportMetric(float64(ml.Milliseconds()), "launch-ready-ms")
			b.ReportMetric(float64(ml)/float64(ms), "launch/script")
			b.ReportMetric(float64(medianInt(scriptRSS))/1024, "rootlesskit-rss-MiB")
			b.ReportMetric(float64(medianInt(launchRSS))/1024, "helper-rss-MiB")
			b.Logf("%s: script %v, Launch %v (medians of %d)", stack.Name, script, launched, len(script))
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianInt(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// peakRSS is the peak resident set (VmHWM) of pid in KiB, or 0.
func peakRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}
