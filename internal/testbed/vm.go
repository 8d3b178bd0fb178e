//go:build linux

package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The VM host is a second test host: a Debian 13 guest under qemu, with systemd as PID 1,
// cgroup v2, AppArmor and Debian's own engine stack, which hack/vm/build makes in
// /opt/rootlessd/vm. A guest package (internal/guest) is a test package with a build tag of
// its own; its host-side test builds it with [BuildGuestTest], boots the guest once with the
// binary on a 9p share ([VM.Run]), and turns the `go test -json` events that come back into
// subtests ([GuestResult.Report]). Inside the guest the same binary calls [GuestMain].

// EnvVMAccel overrides the qemu accelerator: "kvm" or "tcg". Default: kvm where a normal guest
// kernel runs under it, else tcg (see [Accel]).
const EnvVMAccel = "ROOTLESSD_VM_ACCEL"

// VM is the guest image that hack/vm/build made.
type VM struct {
	Dir           string // ROOT/vm
	Kernel        string // the guest's kernel, booted with -kernel
	Initrd        string
	Image         string // the guest's disk (ext4, raw); every boot uses -snapshot
	Cmdline       string
	User          string // the guest's unprivileged test user
	UID           int
	KernelVersion string
}

// LoadVM reads the description of the guest image that hack/vm/build wrote.
func LoadVM() (*VM, error) {
	root := os.Getenv(EnvRoot)
	if root == "" {
		root = "/opt/rootlessd"
	}
	dir := filepath.Join(root, "vm")
	envFile := filepath.Join(dir, "vm.env")
	kv, err := readEnvFile(envFile)
	if err != nil {
		return nil, fmt.Errorf("guest image not built (%w); run: sudo hack/provision (or sudo hack/vm/build)", err)
	}
	vm := &VM{Dir: dir, Kernel: kv["ROOTLESSD_VM_KERNEL"], Initrd: kv["ROOTLESSD_VM_INITRD"], Image: kv["ROOTLESSD_VM_IMAGE"],
		Cmdline: kv["ROOTLESSD_VM_CMDLINE"], User: kv["ROOTLESSD_VM_USER"], KernelVersion: kv["ROOTLESSD_VM_KERNEL_VERSION"]}
	vm.UID, _ = strconv.Atoi(kv["ROOTLESSD_VM_UID"])
	if vm.Kernel == "" || vm.Initrd == "" || vm.Image == "" || vm.Cmdline == "" || vm.User == "" {
		return nil, fmt.Errorf("%s: incomplete (kernel, initrd, image, cmdline and user are required); run: sudo hack/vm/build", envFile)
	}
	for _, f := range []string{vm.Kernel, vm.Initrd, vm.Image} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%s names a missing file (%w); run: sudo hack/vm/build", envFile, err)
		}
	}
	return vm, nil
}

// RequireVM returns the guest image and checks that qemu is installed, or skips tb (fails it
// when ROOTLESSD_REQUIRE_INTEGRATION=1).
func RequireVM(tb testing.TB) *VM {
	tb.Helper()
	vm, err := LoadVM()
	if err == nil {
		_, err = exec.LookPath(qemuBinary)
		if err != nil {
			err = fmt.Errorf("%w; run: sudo hack/vm/build (it installs qemu-system-x86)", err)
		}
	}
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatalf("VM host prerequisite missing (%s=1 makes this a failure): %v", EnvRequire, err)
		}
		tb.Skipf("VM host prerequisite missing: %v", err)
	}
	return vm
}

const qemuBinary = "qemu-system-x86_64"

// Accel returns the qemu accelerator and CPU model for this host, and why. KVM is used only where
// a normal guest kernel can run under it: /dev/kvm is usable and backed by kvm_intel or kvm_amd.
// A paravirtual KVM (kvm_pvm, as on the test bed's own VMs) hangs stock kernels, so there, and
// without /dev/kvm, it is TCG with one thread per vCPU. ROOTLESSD_VM_ACCEL=kvm|tcg overrides it.
func Accel() (accel, cpu, why string) {
	const tcg, tcgCPU = "tcg,thread=multi", "max"
	switch os.Getenv(EnvVMAccel) {
	case "kvm":
		return "kvm", "host", EnvVMAccel + "=kvm"
	case "tcg":
		return tcg, tcgCPU, EnvVMAccel + "=tcg"
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return tcg, tcgCPU, "/dev/kvm is paravirtual (kvm_pvm): stock guest kernels hang under it"
	}
	hw := false
	for _, m := range []string{"kvm_intel", "kvm_amd"} {
		if _, err := os.Stat("/sys/module/" + m); err == nil {
			hw = true
		}
	}
	if !hw {
		return tcg, tcgCPU, "no kvm_intel or kvm_amd module"
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return tcg, tcgCPU, "/dev/kvm: " + err.Error()
	}
	f.Close()
	return "kvm", "host", "/dev/kvm with hardware virtualization"
}

// BuildGuestTest compiles the test binary of the package in dir with the build tag tag to out,
// without cgo (the guest has its own libc).
func BuildGuestTest(ctx context.Context, dir, tag, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goBin, "test", "-c", "-tags", tag, "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c -tags %s in %s: %v\n%s", tag, dir, err, b)
	}
	return nil
}

// FilterPhases keeps the tests whose names match the regular expression re, and the phases that
// still have tests: for running part of a guest suite. An empty re keeps everything.
func FilterPhases(phases []GuestPhase, re string) ([]GuestPhase, error) {
	if re == "" {
		return phases, nil
	}
	rx, err := regexp.Compile(re)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", re, err)
	}
	var out []GuestPhase
	for _, p := range phases {
		q := p
		q.Tests = slices.DeleteFunc(slices.Clone(p.Tests), func(name string) bool { return !rx.MatchString(name) })
		if len(q.Tests) > 0 {
			out = append(out, q)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("filter %q matches no test of the plan", re)
	}
	return out, nil
}

// GuestPhase is one step of a guest run: some tests of the guest binary, run as the guest's test
// user inside its systemd session, or as root (to change the guest between user phases).
type GuestPhase struct {
	Name string
	Root bool
	// Binary is the base name of the test binary that runs the phase: one of GuestRun.Binary
	// and GuestRun.Binaries; "" for GuestRun.Binary.
	Binary string
	Tests  []string // names of top-level test functions
}

// GuestRun describes one boot.
type GuestRun struct {
	Binary string // the guest test binary (BuildGuestTest)
	// Binaries are more test binaries, for phases that name them (GuestPhase.Binary).
	Binaries []string
	// Files are more files for the share: name on the share -> host path. Files under bin/
	// are executable, and the guest copies them to its own disk with the test binaries.
	Files   map[string]string
	Phases  []GuestPhase
	Env     []string      // KEY=VALUE for every phase; values must not contain white space
	Timeout time.Duration // for the whole boot; qemu is killed when it passes. Default 40m.
	// PhaseTimeout is each phase's -test.timeout: a hung phase panics with its goroutines'
	// stacks in its output, before the boot's time box kills everything. Default 30m.
	PhaseTimeout time.Duration
	SMP          int // vCPUs; default 2
	MemMiB       int // default 3072
	// WorkDir holds the share, the console log and qemu's snapshot overlay. Default: a new
	// directory under /var/tmp, removed afterwards; a WorkDir given here is kept, to look into.
	WorkDir string
	// Disk is a qcow2 overlay of the image ([VM.NewOverlay]) that the boot writes to, so that a
	// later boot with the same Disk finds what this one left: a reboot. "" boots with -snapshot
	// (nothing the guest writes outlives the boot).
	Disk string
}

// NewOverlay creates a qcow2 overlay at path over the guest image, for GuestRun.Disk: the image
// stays as it is, and the overlay holds what the guest writes. Remove it when done.
func (vm *VM) NewOverlay(ctx context.Context, path string) error {
	out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", vm.Image, path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qemu-img create (from qemu-utils; sudo hack/vm/build installs it): %v\n%s", err, out)
	}
	return nil
}

// binaryOf is the share name of the test binary that runs p.
func (run GuestRun) binaryOf(p GuestPhase) string {
	if p.Binary != "" {
		return p.Binary
	}
	return filepath.Base(run.Binary)
}

// guestBin is where the guest's runner copies the share's bin/ directory.
const guestBin = "/usr/local/libexec/rootlessd-guest"

// CheckPlan checks that phases run every test of the binaries exactly once, by listing their
// tests. binaries[0] runs the phases that name no binary; the others run the phases that name
// their base name.
func CheckPlan(ctx context.Context, phases []GuestPhase, binaries ...string) error {
	if len(binaries) == 0 {
		return errors.New("CheckPlan: no binary")
	}
	byName := map[string]string{}
	for _, b := range binaries {
		byName[filepath.Base(b)] = b
	}
	run := GuestRun{Binary: binaries[0]}
	seen := map[string]string{} // binary/test -> phase
	var errs []error
	for _, p := range phases {
		bin := run.binaryOf(p)
		if _, ok := byName[bin]; !ok {
			errs = append(errs, fmt.Errorf("phase %q names binary %s, which is not given", p.Name, bin))
		}
		for _, name := range p.Tests {
			key := bin + "/" + name
			if prev, dup := seen[key]; dup {
				errs = append(errs, fmt.Errorf("%s is in phase %q and in phase %q", key, prev, p.Name))
			}
			seen[key] = p.Name
		}
	}
	listed := map[string]bool{}
	for _, b := range binaries {
		out, err := exec.CommandContext(ctx, b, "-test.list", ".").Output()
		if err != nil {
			return fmt.Errorf("%s -test.list: %w", b, err)
		}
		for _, name := range strings.Fields(string(out)) {
			if !strings.HasPrefix(name, "Test") {
				continue
			}
			key := filepath.Base(b) + "/" + name
			listed[key] = true
			if _, ok := seen[key]; !ok {
				errs = append(errs, fmt.Errorf("%s is in no phase: add it to the plan, or it never runs", key))
			}
		}
	}
	for key, phase := range seen {
		if !listed[key] {
			errs = append(errs, fmt.Errorf("phase %q names %s, which the binary does not have", phase, key))
		}
	}
	return errors.Join(errs...)
}

// phasesFile is the share's phases file for run (format: hack/vm/guest/run).
func phasesFile(run GuestRun) (string, error) {
	if err := ValidatePhases(run.Phases); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("# Written by internal/testbed (vm.go): one phase per line, run in order by hack/vm/guest/run.\n")
	for _, kv := range run.Env {
		if strings.ContainsAny(kv, " \t\n") || !strings.Contains(kv, "=") {
			return "", fmt.Errorf("GuestRun.Env: %q is not KEY=VALUE without white space", kv)
		}
	}
	for _, p := range run.Phases {
		if len(p.Tests) == 0 {
			return "", fmt.Errorf("phase %q has no tests", p.Name)
		}
		kind := "user"
		if p.Root {
			kind = "root"
		}
		pattern := "^(" + strings.Join(p.Tests, "|") + ")$"
		words := []string{kind, "env"}
		words = append(words, run.Env...)
		words = append(words, guestBin+"/"+run.binaryOf(p), "-test.v=test2json", "-test.count=1",
			"-test.timeout="+run.PhaseTimeout.String(), "-test.run="+pattern)
		b.WriteString(strings.Join(words, " ") + "\n")
	}
	return b.String(), nil
}

// TestEvent is one event of `go test -json` (cmd/test2json).
type TestEvent struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// PhaseResult is what came back from one phase.
type PhaseResult struct {
	Phase    GuestPhase
	Ran      bool // the guest wrote the phase's exit status
	ExitCode int
	Events   []TestEvent
	Output   string // the phase's raw output (the test binary's -test.v=test2json stream)
}

// GuestResult is what came back from one boot.
type GuestResult struct {
	Phases   []PhaseResult
	Done     bool   // the guest's runner finished every phase
	Console  string // the guest's serial console
	BootTime string // systemd's view of the boot, as the runner saw it
	Elapsed  time.Duration
	Accel    string
	TimedOut bool
	Dir      string // the work directory (GuestRun.WorkDir)
}

// ConsoleTail returns the last n lines of the guest's console.
func (r *GuestResult) ConsoleTail(n int) string { return lastLines(r.Console, n) }

// Run boots the guest once with run's binary and files on a 9p share, runs the phases, and
// returns their results. The boot is time-boxed: when run.Timeout passes (or ctx ends), qemu's
// whole process group is killed. qemu also dies with this process (parent-death signal), and
// Run fails if a qemu of this boot is still alive afterwards. An error means the boot itself
// failed; test failures are in the result.
func (vm *VM) Run(ctx context.Context, run GuestRun) (*GuestResult, error) {
	if run.Timeout == 0 {
		run.Timeout = 40 * time.Minute
	}
	if run.PhaseTimeout == 0 {
		run.PhaseTimeout = min(30*time.Minute, run.Timeout)
	}
	if run.SMP == 0 {
		run.SMP = 2
	}
	if run.MemMiB == 0 {
		run.MemMiB = 3072
	}
	phases, err := phasesFile(run)
	if err != nil {
		return nil, err
	}
	work := run.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("/var/tmp", "rootlessd-vm."); err != nil {
			return nil, err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	res := &GuestResult{Dir: work}
	share := filepath.Join(work, "share")
	if err := os.MkdirAll(filepath.Join(share, "bin"), 0o755); err != nil {
		return nil, err
	}
	for _, bin := range append([]string{run.Binary}, run.Binaries...) {
		if err := copyFile(bin, filepath.Join(share, "bin", filepath.Base(bin)), 0o755); err != nil {
			return nil, err
		}
	}
	for name, src := range run.Files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "bin/") {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(share, name)), 0o755); err != nil {
			return nil, err
		}
		if err := copyFile(src, filepath.Join(share, name), mode); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(share, "phases"), []byte(phases), 0o644); err != nil {
		return nil, err
	}
	console := filepath.Join(work, "console.log")
	accel, cpu, _ := Accel()
	args := []string{
		"-name", "rootlessd-guest", "-nodefaults", "-machine", "q35", "-accel", accel, "-cpu", cpu,
		"-smp", strconv.Itoa(run.SMP), "-m", strconv.Itoa(run.MemMiB),
		"-kernel", vm.Kernel, "-initrd", vm.Initrd, "-append", vm.Cmdline,
		"-virtfs", "local,path=" + share + ",mount_tag=host,security_model=none",
		"-nic", "user,model=virtio-net-pci,restrict=on",
		"-display", "none", "-serial", "file:" + console, "-monitor", "none", "-no-reboot",
	}
	if run.Disk != "" {
		args = append(args, "-drive", "file="+run.Disk+",format=qcow2,if=virtio,cache=unsafe")
	} else {
		args = append(args, "-drive", "file="+vm.Image+",format=raw,if=virtio,cache=unsafe", "-snapshot")
	}
	res.Accel = accel
	bootCtx, cancel := context.WithTimeout(ctx, run.Timeout)
	defer cancel()
	cmd := exec.Command(qemuBinary, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+work) // -snapshot's overlay goes there, and with it
	var qout LockedBuffer
	cmd.Stdout, cmd.Stderr = &qout, &qout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", qemuBinary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-bootCtx.Done():
		res.TimedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		waitErr = <-exited
	}
	res.Elapsed = time.Since(start)
	b, _ := os.ReadFile(console)
	res.Console = string(b)
	if left := processesMentioning(work); len(left) > 0 {
		for _, p := range left {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		return res, fmt.Errorf("qemu left behind after the boot (killed now): %v", left)
	}
	out := filepath.Join(share, "out")
	if b, err := os.ReadFile(filepath.Join(out, "boot-time.txt")); err == nil {
		res.BootTime = strings.TrimSpace(string(b))
	}
	_, err = os.Stat(filepath.Join(out, "done"))
	res.Done = err == nil
	for i, p := range run.Phases {
		pr := PhaseResult{Phase: p, ExitCode: -1}
		n := strconv.Itoa(i + 1)
		if rc, err := os.ReadFile(filepath.Join(out, n+".rc")); err == nil {
			pr.Ran = true
			pr.ExitCode, _ = strconv.Atoi(strings.TrimSpace(string(rc)))
		}
		if raw, err := os.ReadFile(filepath.Join(out, n+".out")); err == nil {
			pr.Output = string(raw)
			if pr.Events, err = convertTest2JSON(ctx, raw); err != nil {
				pr.Output += "\n(testbed: " + err.Error() + ")"
			}
		}
		res.Phases = append(res.Phases, pr)
	}
	switch {
	case res.TimedOut:
		return res, fmt.Errorf("the guest did not power off within %v; qemu killed. Console tail:\n%s", run.Timeout, res.ConsoleTail(60))
	case waitErr != nil:
		return res, fmt.Errorf("qemu: %v\n%s\nConsole tail:\n%s", waitErr, qout.String(), res.ConsoleTail(60))
	case !res.Done:
		return res, fmt.Errorf("the guest powered off before its runner finished (no out/done). Console tail:\n%s", res.ConsoleTail(60))
	}
	return res, nil
}

// processesMentioning lists processes whose command line contains s.
func processesMentioning(s string) []Proc {
	entries, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(s)) {
			continue
		}
		out = append(out, Proc{PID: pid, Cmdline: strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))})
	}
	return out
}

// convertTest2JSON turns a test binary's -test.v=test2json output into events.
func convertTest2JSON(ctx context.Context, raw []byte) ([]TestEvent, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute) // also after the boot's time box
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "tool", "test2json", "-t")
	cmd.Stdin = bytes.NewReader(raw)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	js, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool test2json: %v: %s", err, stderr.String())
	}
	var events []TestEvent
	dec := json.NewDecoder(bytes.NewReader(js))
	for {
		var ev TestEvent
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go tool test2json output: %w", err)
		}
		events = append(events, ev)
	}
	return events, nil
}

// GuestTest is the outcome of one top-level guest test.
type GuestTest struct {
	Phase   string
	Name    string
	Action  string // "pass", "fail", "skip", or "" when the guest gave no result
	Elapsed time.Duration
	Output  string // the test's output, its subtests' included
}

// Tests returns the outcome of every planned test, in plan order.
func (r *GuestResult) Tests() []GuestTest {
	var out []GuestTest
	for _, pr := range r.Phases {
		byName := map[string]*GuestTest{}
		for _, name := range pr.Phase.Tests {
			byName[name] = &GuestTest{Phase: pr.Phase.Name, Name: name}
		}
		for _, ev := range pr.Events {
			top, _, _ := strings.Cut(ev.Test, "/")
			gt := byName[top]
			if gt == nil {
				continue
			}
			gt.Output += ev.Output
			if ev.Test == top && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip") {
				gt.Action = ev.Action
				gt.Elapsed = time.Duration(ev.Elapsed * float64(time.Second))
			}
		}
		for _, name := range pr.Phase.Tests {
			out = append(out, *byName[name])
		}
	}
	return out
}

// Report makes one subtest of t per planned guest test, named PHASE/TestName. A subtest fails
// with the guest's output when the test failed in the guest, and when the guest gave no result
// for it (its phase did not run or did not finish); then the phase's output tail and the
// console's tail are shown. A skipped guest test is a skipped subtest with the guest's reason.
func (r *GuestResult) Report(t *testing.T) {
	t.Helper()
	for _, gt := range r.Tests() {
		pr := r.phase(gt.Phase)
		t.Run(gt.Phase+"/"+gt.Name, func(t *testing.T) {
			switch gt.Action {
			case "pass":
				t.Logf("passed in the guest in %v", gt.Elapsed.Round(time.Millisecond))
				if testing.Verbose() {
					t.Log("guest output:\n" + gt.Output)
				}
			case "skip":
				t.Skip("skipped in the guest:\n" + gt.Output)
			case "fail":
				t.Errorf("failed in the guest (%v):\n%s", gt.Elapsed.Round(time.Millisecond), gt.Output)
			default:
				why := "the phase did not run"
				if pr != nil && pr.Ran {
					why = fmt.Sprintf("the phase exited %d without a result for this test", pr.ExitCode)
				}
				tail := ""
				if pr != nil {
					tail = lastLines(pr.Output, 40)
				}
				t.Errorf("no result from the guest: %s\nphase output tail:\n%s\nconsole tail:\n%s", why, tail, r.ConsoleTail(40))
			}
		})
	}
}

func (r *GuestResult) phase(name string) *PhaseResult {
	i := slices.IndexFunc(r.Phases, func(p PhaseResult) bool { return p.Phase.Name == name })
	if i < 0 {
		return nil
	}
	return &r.Phases[i]
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// testNameRE matches the name of a top-level test function.
var testNameRE = regexp.MustCompile(`^Test[A-Z0-9_]\w*$`)

// ValidatePhases checks names: phases must be named, tests must be test function names.
func ValidatePhases(phases []GuestPhase) error {
	var errs []error
	for _, p := range phases {
		if p.Name == "" || strings.ContainsAny(p.Name, "/ \t") {
			errs = append(errs, fmt.Errorf("phase name %q: want a word without '/'", p.Name))
		}
		for _, name := range p.Tests {
			if !testNameRE.MatchString(name) {
				errs = append(errs, fmt.Errorf("phase %q: %q is not a test function name", p.Name, name))
			}
		}
	}
	return errors.Join(errs...)
}
