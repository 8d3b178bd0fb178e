//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// TestCheckPredictsDocker: what Check says dockerd will do on this host (the storage driver and
// the cgroup driver) is what the daemon, once started with the same options, reports.
func TestCheckPredictsDocker(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			u := bed.Self()
			opts := []rootless.Option{
				rootless.WithStateDir(testbed.ScratchDir(t, bed, stack, u.RuntimeDir)),
				rootless.WithDataRoot(testbed.ScratchDir(t, bed, stack, u.Home)),
			}
			rep, err := rootless.Check(t.Context(), append(opts, rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}}))...)
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Err(); err != nil {
				t.Fatalf("error-level findings on the test bed: %v", err)
			}
			d := launch(t, bed, stack, opts...)
			info := d.Info()
			out := rep.Docker
			t.Logf("predicted storage %s (%s), cgroups %s v%d; the daemon says storage %s, cgroups %s",
				out.Storage.Driver, strings.Join(out.Storage.Reasons, "; "), out.Cgroups.Driver, out.Cgroups.Version, info.StorageDriver, info.CgroupDriver)
			if info.StorageDriver != out.Storage.Driver {
				t.Errorf("Check predicted storage driver %q, the daemon uses %q", out.Storage.Driver, info.StorageDriver)
			}
			if info.CgroupDriver != out.Cgroups.Driver {
				t.Errorf("Check predicted cgroup driver %q, the daemon uses %q", out.Cgroups.Driver, info.CgroupDriver)
			}
			if out.Cgroups.Driver == "none" && !slices.Contains(out.Cgroups.IgnoredFlags, "--memory") {
				t.Errorf("without cgroups, --memory is ignored; the report lists %v", out.Cgroups.IgnoredFlags)
			}
		})
	}
}

// requireFinding fails t unless rep has a finding with id and severity, and returns it.
func requireFinding(t *testing.T, rep *rootless.Report, id diag.ID, sev diag.Severity) *diag.Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.ID == id {
			if f.Severity != sev {
				t.Errorf("%s has severity %s, want %s: %v", id, f.Severity, sev, f)
			}
			if f.Fix == "" && sev != diag.Info {
				t.Errorf("%s has no fix", id)
			}
			return f
		}
	}
	var all []string
	for _, f := range rep.Findings {
		all = append(all, f.Error())
	}
	t.Fatalf("no %s finding; the report has:\n%s", id, strings.Join(all, "\n"))
	return nil
}

// TestCheckBrokenHosts builds hosts that really have each problem, as far as an unprivileged
// user can without touching what other sessions share: a runtime dir under /tmp or of another
// user, an iptables whose tables are missing inside the namespace, nerdctl's containerd state
// in the runtime dir, and a dockerd of dockerd-rootless.sh on the socket and data root. Each is
// an error-level finding that also stops Resolve, with the same finding.
func TestCheckBrokenHosts(t *testing.T) {
	bed := testbed.Require(t)
	stack, _ := bed.Stack("distro")
	u := bed.Self()
	bins := rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}})
	env := func(kv ...string) rootless.Option {
		return rootless.WithEnviron(append([]string{"HOME=" + u.Home, "PATH=" + testbed.SystemPath}, kv...))
	}
	refuses := func(t *testing.T, id diag.ID, opts ...rootless.Option) *diag.Finding {
		t.Helper()
		rep, err := rootless.Check(t.Context(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		f := requireFinding(t, rep, id, diag.Error)
		if _, err := rootless.Resolve(t.Context(), opts...); !errors.Is(err, id) {
			t.Errorf("Resolve: %v; want it refused with %s", err, id)
		}
		return f
	}

	t.Run("runtime dir under /tmp", func(t *testing.T) {
		dir, err := os.MkdirTemp("/tmp", "rl-xdg-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		f := refuses(t, rootless.IDRuntimeDirUnsafe, bins, env("XDG_RUNTIME_DIR="+dir))
		if !strings.Contains(f.Evidence, "/tmp has mode 1777") {
			t.Errorf("evidence %q", f.Evidence)
		}
	})
	t.Run("runtime dir of another user", func(t *testing.T) {
		var other testbed.User
		for _, o := range bed.Users {
			if o.UID != u.UID {
				other = o
				break
			}
		}
		if _, err := os.Stat(other.RuntimeDir); err != nil {
			t.Skipf("no other user's runtime dir: %v", err)
		}
		refuses(t, rootless.IDRuntimeDirOwner, bins, env("XDG_RUNTIME_DIR="+other.RuntimeDir))
	})
	t.Run("iptables tables missing inside the namespace", func(t *testing.T) {
		// A real program first in the PATH, answering as iptables-legacy does on a kernel
		// without iptable_nat (openSUSE, RHEL 10): the probe runs it in a real namespace.
		dir := t.TempDir()
		script := "#!/bin/sh\necho \"iptables v1.8.9 (legacy): can't initialize iptables table \\`nat': Table does not exist (do you need to insmod?)\" >&2\n" +
			"echo 'Perhaps iptables or your kernel needs to be upgraded.' >&2\nexit 3\n"
		if err := os.WriteFile(filepath.Join(dir, "iptables"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		f := refuses(t, rootless.IDKernelModuleMissing, rootless.WithBinaries(rootless.Binaries{Path: []string{dir, stack.Bin}}))
		if !strings.Contains(f.Evidence, filepath.Join(dir, "iptables")) || !strings.Contains(f.Fix, "modprobe") {
			t.Errorf("evidence %q, fix %q", f.Evidence, f.Fix)
		}
	})
	t.Run("missing programs", func(t *testing.T) {
		refuses(t, rootless.IDDockerdUnusable, rootless.WithBinaries(rootless.Binaries{Dockerd: filepath.Join(t.TempDir(), "dockerd")}))
		refuses(t, rootless.IDRootlessKitUnusable, rootless.WithEngine(rootless.EngineExternal),
			rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}, RootlessKit: filepath.Join(t.TempDir(), "rootlesskit")}))
	})
	t.Run("directories that cannot be made", func(t *testing.T) {
		refuses(t, rootless.IDDataRootCreate, bins, rootless.WithDataRoot("/opt/rootlessd-doctor-absent/docker"))
		refuses(t, rootless.IDStateDirCreate, bins, rootless.WithStateDir("/var/lib/rootlessd-doctor-absent"))
	})
	t.Run("containerd-rootless in the runtime dir", func(t *testing.T) {
		state := filepath.Join(u.RuntimeDir, "containerd-rootless")
		if err := os.Mkdir(state, 0o700); err != nil {
			t.Fatalf("%v (another containerd-rootless.sh of %s?)", err, u.Name)
		}
		defer os.Remove(state)
		xdg := env("XDG_RUNTIME_DIR=" + u.RuntimeDir)
		rep, err := rootless.Check(t.Context(), bins, xdg, rootless.WithDataRoot(testbed.ScratchDir(t, bed, stack, u.Home)))
		if err != nil {
			t.Fatal(err)
		}
		requireFinding(t, rep, rootless.IDContainerdRootless, diag.Info) // apart: no conflict
		refuses(t, rootless.IDContainerdRootless, bins, xdg, rootless.WithExecRoot(u.RuntimeDir),
			rootless.WithStateDir(testbed.ScratchDir(t, bed, stack, u.RuntimeDir)))
	})
	t.Run("dockerd-rootless.sh on the socket and the data root", func(t *testing.T) {
		d := testbed.StartScript(t, bed, stack)
		sock := strings.TrimPrefix(d.Host, "unix://")
		f := refuses(t, rootless.IDSocketInUse, bins, rootless.WithStateDir(testbed.ScratchDir(t, bed, stack, u.RuntimeDir)),
			rootless.WithSocket(sock), rootless.WithDataRoot(testbed.ScratchDir(t, bed, stack, u.Home)))
		if !errors.Is(f, rootless.ErrAlreadyRunning) {
			t.Errorf("%v does not wrap ErrAlreadyRunning", f)
		}
		f = refuses(t, rootless.IDDataRootInUse, bins, rootless.WithStateDir(testbed.ScratchDir(t, bed, stack, u.RuntimeDir)),
			rootless.WithDataRoot(d.DataRoot()))
		if !strings.Contains(f.Detail, "dockerd") {
			t.Errorf("%v does not name dockerd", f)
		}
	})
}

// doctorReport is the -json output of examples/doctor.
type doctorReport struct {
	Findings []struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
		Detail   string `json:"detail"`
		Evidence string `json:"evidence"`
		Fix      string `json:"fix"`
	} `json:"findings"`
	Plan   map[string]any   `json:"plan"`
	Docker rootless.Outlook `json:"docker"`
}

// runDoctor runs examples/doctor with args (prefixed by wrap, e.g. setpriv) and returns its
// exit status and report.
func runDoctor(t *testing.T, bin string, wrap []string, env []string, args ...string) (int, doctorReport) {
	t.Helper()
	argv := append(append(slices.Clone(wrap), bin, "-json"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep doctorReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("doctor %v: exit %d, not JSON (%v):\n%s\nstderr:\n%s", args, code, err, out, stderr.String())
	}
	return code, rep
}

// TestDoctorProgram runs examples/doctor for real: on the test bed it exits 0 with no error in
// its report on either stack; under no_new_privs (setpriv --no-new-privs, which stops setuid
// newuidmap) and with a state directory in /tmp it exits 1 and names the problem.
func TestDoctorProgram(t *testing.T) {
	bed := testbed.Require(t)
	bin := example(t, "doctor")
	u := bed.Self()
	env := []string{"HOME=" + u.Home, "USER=" + u.Name, "XDG_RUNTIME_DIR=" + u.RuntimeDir, "PATH=" + testbed.SystemPath}
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			code, rep := runDoctor(t, bin, nil, env, "-path", stack.Bin)
			for _, f := range rep.Findings {
				if f.Severity == "error" {
					t.Errorf("error on the test bed: %+v", f)
				}
			}
			if code != 0 || rep.Plan["engine"] != "embedded" || rep.Docker.Storage.Driver == "" || rep.Docker.Cgroups.Driver != "none" {
				t.Errorf("exit %d, plan engine %v, docker %+v", code, rep.Plan["engine"], rep.Docker)
			}
		})
	}
	stack := bed.Stacks[0]
	hasError := func(t *testing.T, rep doctorReport, id diag.ID) {
		t.Helper()
		for _, f := range rep.Findings {
			if f.ID == string(id) && f.Severity == "error" && f.Fix != "" {
				return
			}
		}
		t.Errorf("no error %s in %+v", id, rep.Findings)
	}
	t.Run("no_new_privs", func(t *testing.T) {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip(err)
		}
		code, rep := runDoctor(t, bin, []string{setpriv, "--no-new-privs"}, env, "-path", stack.Bin)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		hasError(t, rep, rootless.IDNoNewPrivs)
		// No false alarm: RootlessKit itself fails there, and works without no_new_privs.
		state := testbed.ScratchDir(t, bed, stack, u.RuntimeDir)
		rk := exec.Command(setpriv, "--no-new-privs", stack.Binary("rootlesskit"), "--state-dir="+filepath.Join(state, "nnp"), "true")
		rk.Env = env
		if out, err := rk.CombinedOutput(); err == nil || !strings.Contains(string(out), "newuidmap") {
			t.Errorf("rootlesskit under no_new_privs: %v\n%s; want newuidmap to fail", err, out)
		}
		rk = exec.Command(stack.Binary("rootlesskit"), "--state-dir="+filepath.Join(state, "ok"), "true")
		rk.Env = env
		if out, err := rk.CombinedOutput(); err != nil {
			t.Errorf("rootlesskit without no_new_privs: %v\n%s", err, out)
		}
		testbed.AssertNoProcesses(t, 10*time.Second) // RootlessKit's children, as they die
	})
	t.Run("state dir in /tmp", func(t *testing.T) {
		code, rep := runDoctor(t, bin, nil, env, "-path", stack.Bin, "-state-dir", "/tmp/rootlessd-doctor-test")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		hasError(t, rep, rootless.IDStateDirUnsafe)
	})
	t.Run("text", func(t *testing.T) {
		cmd := exec.Command(bin, "-path", stack.Bin)
		cmd.Env = append(env, "NO_COLOR=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{"Launch will run", "Docker will use", "Warnings", "rootless Docker can run here"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("the report lacks %q:\n%s", want, out)
			}
		}
		if bytes.Contains(out, []byte("\x1b[")) {
			t.Error("colours in output to a pipe")
		}
	})
}
