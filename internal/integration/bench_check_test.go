//go:build integration

package integration

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// BenchmarkCheck times the full rootless.Check against each stack's own
// `dockerd-rootless-setuptool.sh check`, interleaved in the same run (the order alternates, so
// that neither always runs on a warmer cache), b.N times each. It reports the medians: Check in
// this process (its probes cached by program version after the first call, as in any
// long-lived program), the first Check of the process, examples/doctor as a fresh process (the
// cold path, like the script's; when built), the setup tool's check, and the ratios.
//
//	go test -tags integration -run '^$' -bench BenchmarkCheck -benchtime 21x ./internal/integration/
func BenchmarkCheck(b *testing.B) {
	bed := testbed.Require(b)
	doctor := os.Getenv("ROOTLESSD_EXAMPLES")
	if doctor != "" {
		doctor += "/doctor"
		if _, err := os.Stat(doctor); err != nil {
			doctor = ""
		}
	}
	u := bed.Self()
	env := []string{"HOME=" + u.Home, "USER=" + u.Name, "XDG_RUNTIME_DIR=" + u.RuntimeDir}
	for _, stack := range bed.Stacks {
		b.Run(stack.Name, func(b *testing.B) {
			opts := []rootless.Option{rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}})}
			first := time.Now()
			if _, err := rootless.Check(b.Context(), opts...); err != nil {
				b.Fatal(err)
			}
			firstCheck := time.Since(first)
			var checks, tools, doctors []time.Duration
			runCheck := func() {
				start := time.Now()
				rep, err := rootless.Check(b.Context(), opts...)
				checks = append(checks, time.Since(start))
				if err != nil || rep.Err() != nil {
					b.Fatalf("Check: %v %v", err, rep.Err())
				}
			}
			runTool := func() {
				cmd := exec.Command(stack.Binary("dockerd-rootless-setuptool.sh"), "check")
				cmd.Env = append(env, "PATH="+stack.Path())
				start := time.Now()
				out, err := cmd.CombinedOutput()
				tools = append(tools, time.Since(start))
				if _, ok := err.(*exec.ExitError); err != nil && !ok {
					b.Fatalf("setuptool check: %v\n%s", err, out)
				}
			}
			runDoctor := func() {
				if doctor == "" {
					return
				}
				cmd := exec.Command(doctor, "-json", "-path", stack.Bin)
				cmd.Env = append(env, "PATH="+testbed.SystemPath)
				start := time.Now()
				out, err := cmd.Output()
				doctors = append(doctors, time.Since(start))
				if err != nil {
					b.Fatalf("doctor: %v\n%s", err, out)
				}
			}
			i := 0
			for b.Loop() {
				if i%2 == 0 {
					runCheck()
					runTool()
					runDoctor()
				} else {
					runDoctor()
					runTool()
					runCheck()
				}
				i++
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			mc, mt := median(checks), median(tools)
			b.ReportMetric(ms(mc), "check-ms")
			b.ReportMetric(ms(firstCheck), "first-check-ms")
			b.ReportMetric(ms(mt), "setuptool-ms")
			b.ReportMetric(float64(mt)/float64(mc), "setuptool/check")
			if len(doctors) > 0 {
				md := median(doctors)
				b.ReportMetric(ms(md), "doctor-process-ms")
				b.ReportMetric(float64(mt)/float64(md), "setuptool/doctor")
			}
			b.Logf("%s: Check %v (first %v), doctor process %v, setuptool check %v (medians of %d)", stack.Name, mc, firstCheck,
				median(append([]time.Duration{}, doctors...)), mt, len(checks))
		})
	}
}
