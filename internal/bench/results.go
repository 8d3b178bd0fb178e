//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// Record is one metric of one contender on one stack and driver pair: its samples and their
// median.
type Record struct {
	Metric    string    `json:"metric"`
	Stack     string    `json:"stack"`
	Drivers   string    `json:"drivers"`
	Contender string    `json:"contender"`
	Unit      string    `json:"unit"`
	Samples   []float64 `json:"samples"`
	Median    float64   `json:"median"`
}

// Machine describes where and when the run happened.
type Machine struct {
	Date      time.Time  `json:"date"`
	Commit    string     `json:"commit"`
	Kernel    string     `json:"kernel"`
	OS        string     `json:"os"`
	CPU       string     `json:"cpu"`
	Cores     int        `json:"cores"`
	MemoryGiB float64    `json:"memory_gib"`
	LoadStart [3]float64 `json:"load_start"`
	LoadEnd   [3]float64 `json:"load_end"`
	QuietLoad float64    `json:"quiet_load"` // a 1-minute load above this marks the run as under load
	Go        string     `json:"go"`
}

// UnderLoad reports whether other work ran on the machine during the run.
func (m Machine) UnderLoad() bool {
	return m.LoadStart[0] > m.QuietLoad || m.LoadEnd[0] > m.QuietLoad
}

// StackInfo names a stack's versions.
type StackInfo struct {
	Name        string `json:"name"`
	Dockerd     string `json:"dockerd"`
	RootlessKit string `json:"rootlesskit"`
}

type results struct {
	Machine Machine     `json:"machine"`
	Rounds  int         `json:"rounds"`
	Stacks  []StackInfo `json:"stacks"`
	Records []*Record   `json:"records"`
	Skipped []string    `json:"skipped,omitempty"` // stack and drivers the anchor cannot run, and why
	Minutes float64     `json:"minutes"`           // how long the run took
	Command string      `json:"command"`           // the command line that made it
	Failed  string      `json:"failed,omitempty"`  // the error that ended a run early
}

func newResults() *results { return &results{} }

func (r *results) add(metric, stack, drivers, contender string, v float64) {
	rec := r.find(metric, stack, drivers, contender)
	if rec == nil {
		rec = &Record{Metric: metric, Stack: stack, Drivers: drivers, Contender: contender, Unit: unitOf(metric)}
		r.Records = append(r.Records, rec)
	}
	rec.Samples = append(rec.Samples, v)
	rec.Median = median(rec.Samples)
}

func (r *results) find(metric, stack, drivers, contender string) *Record {
	for _, rec := range r.Records {
		if rec.Metric == metric && rec.Stack == stack && rec.Drivers == drivers && rec.Contender == contender {
			return rec
		}
	}
	return nil
}

func unitOf(metric string) string {
	switch {
	case metric == mThroughput:
		return "Gbit/s"
	case strings.HasPrefix(metric, "pss/"), strings.HasSuffix(metric, "-pss"), strings.HasSuffix(metric, "-rss"), strings.HasSuffix(metric, "-host"):
		return "MiB"
	}
	return "ms"
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (b *bench) write(r *results) error { return write(r, b.o) }

// write prints the table and writes the files o names: the JSON records, the chart, the report.
func write(r *results, o *options) error {
	fmt.Print(table(r)) // the figures, also for -short
	for _, f := range []string{o.jsonOut, o.chart, o.doc} {
		if f != "" {
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				return err
			}
		}
	}
	if o.jsonOut != "" {
		j, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonOut, append(j, '\n'), 0o644); err != nil {
			return err
		}
	}
	if o.chart != "" {
		if err := writeChart(r, o.chart); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
	}
	md := markdown(r, o)
	if o.doc != "" {
		if err := os.WriteFile(o.doc, []byte(md), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", o.doc)
	}
	return nil
}

func machineInfo(quiet float64) Machine {
	m := Machine{Date: time.Now().UTC(), Cores: runtime.NumCPU(), LoadStart: loadAverage(), QuietLoad: quiet, Go: runtime.Version()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.MemoryGiB = float64(si.Totalram) * float64(si.Unit) / (1 << 30)
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
			m.Commit += "+changes"
		}
	}
	return m
}

func loadAverage() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

func stackInfo(st testbed.Stack) StackInfo {
	si := StackInfo{Name: st.Name}
	if out, err := exec.Command(st.Binary("dockerd"), "--version").Output(); err == nil {
		si.Dockerd = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command(st.Binary("rootlesskit"), "--version").Output(); err == nil {
		si.RootlessKit = strings.TrimSpace(string(out))
	}
	return si
}

// readResults reads a run's -json file, for -render.
func readResults(path string) (*results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &results{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Records) == 0 {
		return nil, fmt.Errorf("%s has no records: is it the -json file of a run?", path)
	}
	return r, nil
}
