//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/internal/proc"
	"github.com/rootlessd/rootlessd/internal/reliability"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

// The fault-injection suite (issue 14). Every scenario runs on both engine stacks, against one
// fixture per stack: a state directory and a data root that hold an image and a container
// created before any fault. After every scenario:
//
//   - no process of the test user survives unless the scenario means it to;
//   - no stale lock, pid file or socket blocks the next Launch on the same directories;
//   - the data root still holds the image, and docker ps -a still lists the container.
//
// TestFaults writes a table of every scenario to $ROOTLESSD_RELIABILITY_REPORT when it is set
// (hack/reliability puts it in docs/reliability.md). ROOTLESSD_RELIABILITY=full runs the long
// versions of the kill loop and of the concurrent launches; see shortNote.

const (
	envFaultHost    = "ROOTLESSD_IT_FAULTHOST"       // the test binary acts as a host program (faultHost)
	envReport       = "ROOTLESSD_RELIABILITY_REPORT" // where TestFaults writes its table
	envMode         = "ROOTLESSD_RELIABILITY"        // "full" for the long runs
	envWorker       = "ROOTLESSD_FAULTS_STACK"       // this process runs the suite on one stack (a worker)
	envRows         = "ROOTLESSD_FAULTS_ROWS"        // where a worker appends its rows, as JSON lines
	envRun          = "ROOTLESSD_FAULTS_RUN"         // a -run pattern for the workers' subtests (family/stack/scenario)
	envFaultsReaper = "ROOTLESSD_FAULTS_REAPER"      // "1": this process is a worker's reaper; a pid: the worker's reaper
)

// faultsReaper starts this test binary again as a worker, with the same arguments, and reaps every
// child until the worker exits, whose status it returns. It is a child subreaper: orphans of
// the worker's scenarios are re-parented to it (not to init), so the worker finds them below
// it (mine), and it reaps them once they exit, as init would.
func faultsReaper() int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "reaper: become a child subreaper:", err)
		return 1
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, envFaultsReaper+"=") })
	env = append(env, envFaultsReaper+"="+strconv.Itoa(os.Getpid()))
	worker, err := syscall.ForkExec("/proc/self/exe", os.Args, &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "reaper: start the worker:", err)
		return 1
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "reaper:", err)
			return 1
		}
		if pid == worker {
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
	}
}

// full reports the full run; CI runs the short one.
func full() bool { return os.Getenv(envMode) == "full" }

// shortNote says what the short mode shortens, in the report.
const shortNote = "the short run (CI) does 3 cycles of the kill loop instead of 10 and 4 concurrent launches on different directories instead of 10, and runs the scenarios marked *shared* on the distro stack only: what they exercise (the embedded RootlessKit, slirp4netns, this SDK's locking, probes and watchdog) is the same program on both stacks, and on 2 cores each of these runs costs 5 to 10 seconds without covering more code. `ROOTLESSD_RELIABILITY=full` (hack/reliability) runs everything on both stacks"

// sharedStack is where the short run runs the shared scenarios: the stack whose dockerd starts
// faster, which also balances the two workers.
const sharedStack = "distro"

// faultRow is one line of the report.
type faultRow struct {
	Family, Scenario, Stack string
	Pass                    bool
	Orphans                 int    // processes of the test user left after the scenario (then killed)
	DataKept                string // "yes", "no", or "n/a" (the scenario does not touch the fixture)
	Seen                    string // the error or event the scenario saw, first line
	Detect                  time.Duration
	DetectWhat              string // what Detect measures
	Took                    time.Duration
	Dockerd                 string // the stack's dockerd version
}

// faultReport collects the rows and rewrites the report after each one, so that a run that
// stops half-way still leaves its table.
type faultReport struct {
	mu    sync.Mutex
	rows  []faultRow
	start time.Time
}

var faults = &faultReport{start: time.Now()}

func (r *faultReport) add(row faultRow) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, row)
	if row.Dockerd != "" {
		stacksSeen.Store(row.Stack, "dockerd "+row.Dockerd)
	}
	if path := os.Getenv(envRows); path != "" { // a worker: TestFaults's parent renders the report
		b, _ := json.Marshal(row)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err == nil {
			_, err = f.Write(append(b, '\n'))
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "fault rows: %v\n", err)
		}
		return
	}
	if path := os.Getenv(envReport); path != "" {
		if err := os.WriteFile(path, []byte(r.render()), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "fault report: %v\n", err)
		}
	}
}

// render writes the report in Markdown.
func (r *faultReport) render() string {
	var b strings.Builder
	mode := "short (CI)"
	if full() {
		mode = "full"
	}
	passed := 0
	for _, row := range r.rows {
		if row.Pass {
			passed++
		}
	}
	b.WriteString(reliability.Title + "\n\n")
	fmt.Fprintf(&b, "Written by `TestFaults` (internal/integration/faults*_test.go) from a real run; regenerate with `sudo hack/reliability`.\n")
	fmt.Fprintf(&b, "Every scenario runs on both engine stacks against a state directory and data root that hold an image and a container made before the fault; after each one the suite checks that no process of the test user is left, that a Launch on the same directories works, and that the image and the container are still there. The two stacks run at the same time, each in a worker process below a child subreaper of its own, so that a scenario's orphans are found below its own worker's reaper.\n\n")
	fmt.Fprintf(&b, "- date: %s\n- machine: %s\n- stacks: %s\n- mode: %s; %s\n- result: %d of %d scenario runs passed, in %v\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(), stacksLine(), mode, shortNote, passed, len(r.rows), time.Since(r.start).Round(time.Second))
	b.WriteString("Columns: **orphans** are processes of the test user left when the scenario ended (each one fails it); **data kept**: the image and the container made before the fault were there afterwards (n/a: the scenario never starts a daemon on the fixture); **seen** is the error or event the caller got; **detect** is the time from the fault to what the caller saw (what it measures follows the figure).\n\n")
	b.WriteString("| " + strings.Join(reliability.Columns, " | ") + " |\n|" + strings.Repeat("---|", len(reliability.Columns)) + "\n")
	for _, row := range r.rows {
		res := "pass"
		if !row.Pass {
			res = "**FAIL**"
		}
		det := "–"
		if row.Detect > 0 {
			det = row.Detect.Round(time.Millisecond).String()
			if row.DetectWhat != "" {
				det += " (" + row.DetectWhat + ")"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s | %s | %v |\n", row.Family, row.Scenario, row.Stack, res, row.Orphans,
			row.DataKept, cell(row.Seen), det, row.Took.Round(100*time.Millisecond))
	}
	return b.String()
}

// cell makes s fit in a table cell.
func cell(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 220 {
		s = s[:217] + "..."
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	if s == "" {
		return "–"
	}
	return s
}

func machine() string {
	osName := runtime.GOOS
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, kernel %s, %d cores", osName, strings.TrimSpace(string(kernel)), runtime.NumCPU())
}

var stacksSeen sync.Map // stack name -> "dockerd VERSION"

func stacksLine() string {
	var parts []string
	stacksSeen.Range(func(k, v any) bool { parts = append(parts, fmt.Sprintf("%s (%s)", k, v)); return true })
	slices.Sort(parts)
	return strings.Join(parts, ", ") + "; engine: RootlessKit embedded (the default)"
}

// fixture is a stack's state directory and data root with an image and a container made
// before any fault.
type fixture struct {
	bed         *testbed.Bed
	stack       testbed.Stack
	state, data string
	container   string
	dockerd     string // its version
}

// opts are the options of a Launch on the fixture's directories.
func (fx *fixture) opts(extra ...rootless.Option) []rootless.Option {
	return append([]rootless.Option{rootless.WithStateDir(fx.state), rootless.WithDataRoot(fx.data),
		rootless.WithBinaries(rootless.Binaries{Path: []string{fx.stack.Bin}}), rootless.WithStopTimeout(10 * time.Second)}, extra...)
}

// seed makes the fixture of stack: a launch, the test image, a container, a clean stop.
func seed(t *testing.T, bed *testbed.Bed, stack testbed.Stack) *fixture {
	t.Helper()
	u := bed.Self()
	fx := &fixture{bed: bed, stack: stack, state: testbed.ScratchDir(t, bed, stack, u.RuntimeDir), data: testbed.ScratchDir(t, bed, stack, u.Home)}
	d, log := launchLogged(t, fx.opts()...)
	cli := testbed.Client(t, d.Host())
	testbed.LoadImage(t, cli, bed)
	c, err := cli.ContainerCreate(t.Context(), &container.Config{Image: bed.ImageTag, Cmd: []string{"true"}}, nil, nil, nil, "rd-fixture")
	if err != nil {
		t.Fatalf("create the fixture's container: %v\n%s", err, log)
	}
	fx.container = c.ID
	fx.dockerd = d.Info().ServerVersion
	if err := d.Close(); err != nil {
		t.Fatalf("close the fixture's daemon: %v", err)
	}
	return fx
}

// launchLogged launches with opts and a debug log kept for failures; the daemon is closed at
// cleanup.
func launchLogged(t *testing.T, opts ...rootless.Option) (*rootless.Daemon, *testbed.LockedBuffer) {
	t.Helper()
	out := &testbed.LockedBuffer{}
	opts = append([]rootless.Option{rootless.WithLogger(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)
	d, err := rootless.Launch(t.Context(), opts...)
	if err != nil {
		t.Fatalf("Launch: %v\nlog:\n%s", err, out.String())
	}
	t.Cleanup(func() {
		_ = d.Close()
		if t.Failed() {
			t.Logf("daemon log:\n%s", out.String())
		}
	})
	return d, out
}

// logger is a debug logger into buf.
func logger(buf io.Writer) rootless.Option {
	return rootless.WithLogger(slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// TestFaults runs every family of scenarios on every stack. The stacks run at the same time,
// each in a worker: this test binary again, with envWorker naming the stack, below a reaper of
// its own (faultsReaper), so that every process a scenario leaves behind, orphans included, stays
// below that reaper and is told apart from the other worker's (orphans looks only there). The
// workers append their rows to a file each; this test renders the report.
//
// To run some scenarios of one stack in this process instead:
//
//	ROOTLESSD_FAULTS_STACK=current go test -tags integration -run 'TestFaults/kill/current/SIGKILL_dockerd' ./internal/integration/
func TestFaults(t *testing.T) {
	bed := testbed.Require(t)
	if name := os.Getenv(envWorker); name != "" {
		runStack(t, bed, name)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			t.Parallel()
			rows := filepath.Join(dir, stack.Name+".rows")
			run := "^TestFaults$"
			if r := os.Getenv(envRun); r != "" {
				run += "/" + r
			}
			cmd := exec.Command(exe, "-test.run="+run, "-test.count=1", "-test.timeout=40m")
			cmd.Env = append(os.Environ(), envWorker+"="+stack.Name, envRows+"="+rows, envFaultsReaper+"=1")
			out := &testbed.LockedBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			err := cmd.Run()
			b, rerr := os.ReadFile(rows)
			if rerr != nil && err == nil {
				t.Errorf("the %s worker wrote no rows: %v\n%s", stack.Name, rerr, out.String())
			}
			for line := range strings.Lines(string(b)) {
				var row faultRow
				if err := json.Unmarshal([]byte(line), &row); err != nil {
					t.Errorf("row of the %s worker: %v: %s", stack.Name, err, line)
					continue
				}
				faults.add(row)
			}
			if err != nil {
				t.Errorf("the %s worker: %v\n%s", stack.Name, err, out.String())
			}
		})
	}
}

// runStack runs every family of scenarios on the stack called name, in a worker.
func runStack(t *testing.T, bed *testbed.Bed, name string) {
	i := slices.IndexFunc(bed.Stacks, func(s testbed.Stack) bool { return s.Name == name })
	if i < 0 {
		t.Fatalf("%s=%s: no such stack", envWorker, name)
	}
	stack := bed.Stacks[i]
	fx := seed(t, bed, stack)
	for _, fam := range []struct {
		name      string
		scenarios []scenario
	}{
		{"kill", killScenarios},
		{"stop", stopScenarios},
		{"cancel", cancelScenarios},
		{"concurrency", concurrencyScenarios},
		{"stale", staleScenarios},
		{"sigterm", sigtermScenarios},
		{"killloop", killLoopScenarios},
		{"badinput", badInputScenarios},
		{"security", securityScenarios},
		{"watchdog", watchdogScenarios},
	} {
		t.Run(fam.name, func(t *testing.T) {
			t.Run(stack.Name, func(t *testing.T) {
				for _, sc := range fam.scenarios {
					if sc.shared && !full() && stack.Name != sharedStack {
						continue
					}
					run(t, fam.name, sc, fx)
				}
			})
		})
	}
}

// scenario is one fault and what must follow it. f fills in the row; after it the suite
// checks for orphans, and, unless untouched, that the fixture survived.
type scenario struct {
	name string
	// untouched: the scenario never starts a daemon on the fixture; its directories are
	// compared before and after instead of relaunching.
	untouched bool
	// checked: the scenario itself relaunched on the fixture and checked the image and the
	// container (it sets row.DataKept); the suite only looks for orphans and stale files.
	checked bool
	// shared: what the scenario exercises does not differ between the stacks (see shortNote).
	shared bool
	f      func(t *testing.T, fx *fixture, row *faultRow)
}

func run(t *testing.T, family string, sc scenario, fx *fixture) {
	t.Run(sc.name, func(t *testing.T) {
		name := sc.name
		if sc.shared {
			name += " *(shared)*"
		}
		row := &faultRow{Family: family, Scenario: name, Stack: fx.stack.Name, DataKept: "n/a", Dockerd: fx.dockerd}
		start := time.Now()
		before := ""
		if sc.untouched {
			before = listing(t, fx)
		}
		defer func() {
			row.Took = time.Since(start)
			row.Pass = !t.Failed()
			faults.add(*row)
		}()
		sc.f(t, fx, row)
		if t.Failed() {
			row.Orphans = len(orphans(t, 20*time.Second))
			return
		}
		if row.Orphans = len(orphans(t, 20*time.Second)); row.Orphans > 0 {
			return
		}
		if sc.untouched {
			if after := listing(t, fx); after != before {
				t.Errorf("the fixture changed:\nbefore %s\nafter  %s", before, after)
			} else {
				row.DataKept = "yes (untouched)"
			}
			return
		}
		if sc.checked {
			assertOnlyLock(t, fx.state)
			return
		}
		row.DataKept = verify(t, fx)
		row.Orphans += len(orphans(t, 20*time.Second))
	})
}

// checkData is verify's look at a running daemon on the fixture: the image and the container.
func checkData(t *testing.T, fx *fixture, d *rootless.Daemon) string {
	t.Helper()
	cli := testbed.Client(t, d.Host())
	if _, err := cli.ImageInspect(t.Context(), fx.bed.ImageTag); err != nil {
		t.Errorf("the image is gone after the fault: %v", err)
		return "no (image lost)"
	}
	list, err := cli.ContainerList(t.Context(), container.ListOptions{All: true})
	if err != nil || !slices.ContainsFunc(list, func(c container.Summary) bool { return c.ID == fx.container }) {
		t.Errorf("docker ps -a lacks the fixture's container %.12s after the fault (%v)", fx.container, err)
		return "no (container lost)"
	}
	return "yes"
}

// orphans waits up to grace for the test user's processes (but this one) to be gone, and
// reports and kills those that stay.
func orphans(t *testing.T, grace time.Duration) []testbed.Proc {
	t.Helper()
	deadline := time.Now().Add(grace)
	for {
		left := mine(testbed.ProcessesOf(os.Getuid()))
		left = slices.DeleteFunc(left, func(p testbed.Proc) bool { return strings.HasPrefix(p.Cmdline, "rootlesskit rm -rf") })
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				t.Errorf("process left behind: %d %s", p.PID, p.Cmdline)
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mine keeps, in a worker started by TestFaults, the processes below its reaper (its parent,
// a child subreaper: orphans of the worker's scenarios are re-parented to it and reaped by it);
// elsewhere every process of the test user.
func mine(procs []testbed.Proc) []testbed.Proc {
	reaper := os.Getppid()
	if os.Getenv(envFaultsReaper) != strconv.Itoa(reaper) {
		return procs
	}
	parent := map[int]int{os.Getpid(): reaper} // procs lacks this process
	for _, p := range procs {
		if s, err := proc.ReadStat(p.PID); err == nil {
			parent[p.PID] = s.PPID
		}
	}
	return slices.DeleteFunc(procs, func(p testbed.Proc) bool {
		for pid, hops := p.PID, 0; hops < 64; hops++ {
			pp, ok := parent[pid]
			if !ok {
				return true // its parent is not the test user's: not below the reaper
			}
			if pp == reaper {
				return false
			}
			pid = pp
		}
		return true
	})
}

// verify relaunches on the fixture: it must start, and still hold the image and the container.
func verify(t *testing.T, fx *fixture) string {
	t.Helper()
	out := &testbed.LockedBuffer{}
	d, err := rootless.Launch(t.Context(), fx.opts(logger(out))...)
	if err != nil {
		t.Errorf("relaunch on the same directories after the fault: %v\nlog:\n%s", err, out.String())
		return "no (no relaunch)"
	}
	defer d.Close()
	kept := checkData(t, fx, d)
	if err := d.Close(); err != nil {
		t.Errorf("close after the relaunch: %v", err)
	}
	assertOnlyLock(t, fx.state) // nothing stale is left for the next Launch either
	return kept
}

// listing describes the fixture's directories, to see that a scenario touched nothing.
func listing(t *testing.T, fx *fixture) string {
	t.Helper()
	var b strings.Builder
	for _, dir := range []string{fx.state, fx.data} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			info, _ := e.Info()
			fmt.Fprintf(&b, "%s %v %d; ", filepath.Join(dir, e.Name()), info.Mode(), info.ModTime().UnixNano())
		}
	}
	return b.String()
}

// short is the first line of err, for the report.
func short(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// hostConfig of faultHost, the host program that scenarios start, signal and kill.
type faultHostConfig struct {
	Bin, StateDir, DataRoot string
	StopTimeout             time.Duration
	Pasta                   string // a directory with a pasta new enough: use the pasta network
}

// faultHost launches a daemon, prints "READY <DOCKER_HOST> <engine pid>", and on SIGTERM
// closes it and prints "CLOSED <error or ok>"; TestMain runs it when envFaultHost is set.
func faultHost(raw string) int {
	var hc faultHostConfig
	if err := json.Unmarshal([]byte(raw), &hc); err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	opts := []rootless.Option{rootless.WithStateDir(hc.StateDir), rootless.WithDataRoot(hc.DataRoot),
		rootless.WithBinaries(rootless.Binaries{Path: []string{hc.Bin}})}
	if hc.StopTimeout > 0 {
		opts = append(opts, rootless.WithStopTimeout(hc.StopTimeout))
	}
	if hc.Pasta != "" {
		opts = append(opts, rootless.WithNetwork(netdriver.Pasta{}), rootless.WithBinaries(rootless.Binaries{Path: []string{hc.Pasta, hc.Bin}}))
	}
	d, err := rootless.Launch(context.Background(), opts...)
	if err != nil {
		fmt.Println("ERROR", strings.ReplaceAll(err.Error(), "\n", " | "))
		return 1
	}
	fmt.Println("READY", d.Host(), d.PID())
	select {
	case <-sigs:
		if err := d.Close(); err != nil {
			fmt.Println("CLOSED", err)
			return 1
		}
		fmt.Println("CLOSED ok")
		return 0
	case <-d.Done():
		fmt.Println("EXITED", d.Err())
		return 1
	}
}

// hostProc is a running faultHost.
type hostProc struct {
	cmd   *exec.Cmd
	host  string
	pid   int // the engine's pid
	lines chan string
	done  chan struct{}
}

// startFaultHost starts faultHost on fx's directories and waits until its daemon is ready.
func startFaultHost(t *testing.T, fx *fixture, stopTimeout time.Duration) *hostProc {
	t.Helper()
	return startFaultHostWith(t, faultHostConfig{Bin: fx.stack.Bin, StateDir: fx.state, DataRoot: fx.data, StopTimeout: stopTimeout})
}

func startFaultHostWith(t *testing.T, hc faultHostConfig) *hostProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(hc)
	h := &hostProc{cmd: exec.Command(exe), lines: make(chan string, 16), done: make(chan struct{})}
	h.cmd.Env = append(os.Environ(), envFaultHost+"="+string(raw))
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.cmd.Stderr = os.Stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
		_ = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() { _ = h.cmd.Process.Kill(); <-h.done })
	select {
	case line, ok := <-h.lines:
		f := strings.Fields(line)
		if !ok || len(f) != 3 || f[0] != "READY" {
			t.Fatalf("host program: %q", line)
		}
		h.host = f[1]
		h.pid, _ = strconv.Atoi(f[2])
	case <-time.After(3 * time.Minute): // a guard against a hang
		t.Fatal("host program not ready within 3 minutes")
	}
	return h
}

// await waits up to wait for ch; it fails t with what if ch stays open. A guard against a
// hang, not a measurement: the times the report shows are measured separately.
func await(t *testing.T, ch <-chan struct{}, wait time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("%s: not within %v", what, wait)
	}
}

// awaitHealth waits until the daemon's health satisfies ok, or it has stopped, for up to wait.
func awaitHealth(t *testing.T, d *rootless.Daemon, wait time.Duration, ok func(rootless.Health) bool) rootless.Health {
	t.Helper()
	deadline := time.After(wait)
	for {
		h := d.Health()
		if ok(h) {
			return h
		}
		if h.State == rootless.Stopped {
			t.Fatalf("the daemon stopped (%v) before its health was as expected", h.Err)
		}
		select {
		case <-h.Changed:
		case <-deadline:
			t.Fatalf("health still %s (%v) after %v", h.State, h.Err, wait)
		}
	}
}

// treePIDs finds the processes below the daemon's engine process, by role: the network
// program, dockerd, containerd and the shims, from /proc.
func treePIDs(t *testing.T, d *rootless.Daemon) map[string][]int {
	t.Helper()
	info := d.Info()
	dockerd, _ := filepath.EvalSymlinks(info.Dockerd.Path)
	network := ""
	if info.Network != nil && !info.Network.Properties().InProcess {
		network = filepath.Base(info.Network.Properties().Program)
	}
	out := map[string][]int{}
	for _, p := range below(d.PID()) {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
		switch base := filepath.Base(exe); {
		case p == info.ChildPID:
			out["child"] = append(out["child"], p)
		case exe == dockerd:
			out["dockerd"] = append(out["dockerd"], p)
		case network != "" && base == network:
			out["network"] = append(out["network"], p)
		case base == "containerd":
			out["containerd"] = append(out["containerd"], p)
		case strings.HasPrefix(base, "containerd-shim"):
			out["shim"] = append(out["shim"], p)
		}
	}
	return out
}

// below lists the processes below pid (not pid itself).
func below(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+1:]
		f := strings.Fields(rest)
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// onePID returns the only pid of role in d's tree, failing t otherwise.
func onePID(t *testing.T, d *rootless.Daemon, role string) int {
	t.Helper()
	pids := treePIDs(t, d)[role]
	if len(pids) != 1 {
		t.Fatalf("%d processes of role %s in the daemon's tree (%v), want 1", len(pids), role, treePIDs(t, d))
	}
	return pids[0]
}

// exitOf returns the daemon's *ExitError after Done.
func exitOf(t *testing.T, d *rootless.Daemon) *rootless.ExitError {
	t.Helper()
	ee, ok := errors.AsType[*rootless.ExitError](d.Err())
	if !ok {
		t.Fatalf("Err = %v, want an *ExitError", d.Err())
	}
	return ee
}

// pastaFor returns a directory with a pasta that RootlessKit can use with fx's stack, or why
// there is none: Debian 12's is too old; hack/provision may install a newer one
// (ROOTLESSD_TESTBED_PASTA in the bed's testbed.env).
func pastaFor(t *testing.T, fx *fixture) (string, string) {
	t.Helper()
	dir := ""
	if b, err := os.ReadFile(filepath.Join(fx.bed.Root, "testbed.env")); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ROOTLESSD_TESTBED_PASTA="); ok {
				dir = v
			}
		}
	}
	var path []string
	if dir != "" {
		path = append(path, dir)
	}
	_, err := rootless.Resolve(t.Context(), rootless.WithStateDir(fx.state), rootless.WithDataRoot(fx.data),
		rootless.WithNetwork(netdriver.Pasta{}), rootless.WithBinaries(rootless.Binaries{Path: append(path, fx.stack.Bin)}))
	if err != nil {
		return "", "no usable pasta on this host: " + short(err)
	}
	return dir, ""
}

// pastaOf finds the pasta of the daemon whose state dir is state: it daemonizes out of the
// tree, and names the namespaces in its arguments.
func pastaOf(t *testing.T, state string) int {
	t.Helper()
	var pastas []testbed.Proc
	for _, p := range mine(testbed.ProcessesOf(os.Getuid())) {
		// pasta makes itself non-dumpable: its exe link cannot be read, its command line can.
		if argv0, _, _ := strings.Cut(p.Cmdline, " "); strings.HasPrefix(filepath.Base(argv0), "pasta") {
			pastas = append(pastas, p)
			if strings.Contains(p.Cmdline, state) {
				return p.PID
			}
		}
	}
	if len(pastas) == 1 { // without detach-netns it names the child by pid only
		return pastas[0].PID
	}
	t.Fatalf("no pasta names %s: %v", state, pastas)
	return 0
}
