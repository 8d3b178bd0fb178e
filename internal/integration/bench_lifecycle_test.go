//go:build integration

package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// BenchmarkActivation measures socket activation on each stack (figures, not assertions):
//
//   - cold: the time from a first connection on an activator's socket whose daemon is stopped
//     to the answer of GET /version (the daemon starts on it), median over b.N cold starts;
//
//   - warm: the same request through the activator's socket to the running daemon (spliced),
//     and straight to the daemon's own socket, median over 20 requests each per iteration;
//
//   - idle stop: the PSS and RSS of this user's processes (the daemon's tree) while the daemon
//     runs idle, all of which the idle stop returns (after it, no process is left).
//
//     go test -tags integration -run '^$' -bench Activation -benchtime 5x ./internal/integration/
func BenchmarkActivation(b *testing.B) {
	bed := testbed.Require(b)
	for _, stack := range bed.Stacks {
		b.Run(stack.Name, func(b *testing.B) {
			const idle = 500 * time.Millisecond
			a, sock := serveActivator(b, bed, stack, rootless.WithIdleStop(idle))
			var cold, warm, direct []time.Duration
			var pss, rss []float64
			for b.Loop() {
				waitFor(b, "the idle stop", 2*time.Minute, func() bool { return a.Daemon() == nil })
				start := time.Now()
				if err := getVersion(b.Context(), sock); err != nil {
					b.Fatal(err)
				}
				cold = append(cold, time.Since(start))
				d := a.Daemon()
				for range 20 {
					start = time.Now()
					if err := getVersion(b.Context(), sock); err != nil {
						b.Fatal(err)
					}
					warm = append(warm, time.Since(start))
					start = time.Now()
					if err := getVersion(b.Context(), d.SocketPath()); err != nil {
						b.Fatal(err)
					}
					direct = append(direct, time.Since(start))
				}
				p, r := userMemory()
				pss, rss = append(pss, p), append(rss, r)
				stops := a.IdleStops()
				waitFor(b, "the idle stop", 2*time.Minute, func() bool { return a.IdleStops() > stops })
				if p, r := userMemory(); p != 0 || r != 0 {
					b.Errorf("after the idle stop this user's processes still use PSS %.1f MiB, RSS %.1f MiB", p, r)
				}
			}
			b.ReportMetric(ms(median(cold)), "ms/cold-answer")
			b.ReportMetric(ms(median(warm)), "ms/warm-answer")
			b.ReportMetric(ms(median(direct)), "ms/direct-answer")
			b.ReportMetric(medianF(pss), "MiB-PSS-freed")
			b.ReportMetric(medianF(rss), "MiB-RSS-freed")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// getVersion asks GET /version on a new connection to sock and reads the whole answer.
func getVersion(ctx context.Context, sock string) error {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/version", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ApiVersion") {
		return fmt.Errorf("GET /version: %d %s", resp.StatusCode, body)
	}
	return nil
}

// userMemory sums the PSS and RSS (MiB) of this user's processes other than this one.
func userMemory() (pss, rss float64) {
	for _, p := range testbed.ProcessesOf(os.Getuid()) {
		pss += procKB(fmt.Sprintf("/proc/%d/smaps_rollup", p.PID), "Pss:")
		rss += procKB(fmt.Sprintf("/proc/%d/status", p.PID), "VmRSS:")
	}
	return pss / 1024, rss / 1024
}

// procKB reads the kB value of the line starting with key.
func procKB(file, key string) float64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return v
		}
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func medianF(fs []float64) float64 {
	if len(fs) == 0 {
		return 0
	}
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[len(s)/2]
}
