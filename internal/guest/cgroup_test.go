//go:build guest

package guest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

// TestDebianHost records what the guest is, so that every other result can be read against it:
// systemd as PID 1 with the test user's manager and bus, cgroup v2, AppArmor on, the versions of
// Debian's stack, and what Debian does not have: Ubuntu's
// kernel.apparmor_restrict_unprivileged_userns sysctl (an Ubuntu kernel patch).
func TestDebianHost(t *testing.T) {
	testbed.RequireGuest(t)
	if st, err := os.Stat("/run/systemd/system"); err != nil || !st.IsDir() {
		t.Errorf("systemd is not PID 1 (/run/systemd/system: %v)", err)
	}
	if mode, err := cgroupdeleg.DetectMode(cgroupdeleg.Host()); err != nil || mode != cgroupdeleg.Unified {
		t.Errorf("cgroup mode %v (%v), want unified (cgroup v2)", mode, err)
	}
	if cg := readFile(t, "/proc/self/cgroup"); !strings.Contains(cg, fmt.Sprintf("/user@%d.service/", os.Getuid())) {
		t.Errorf("the test does not run in the user's systemd session: /proc/self/cgroup is %q", cg)
	}
	for k, want := range map[string]string{"XDG_RUNTIME_DIR": fmt.Sprintf("/run/user/%d", os.Getuid()), "DBUS_SESSION_BUS_ADDRESS": userBus()} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if got := output(t, "systemctl", "--user", "is-system-running"); got != "running" && got != "degraded" {
		t.Errorf("systemctl --user is-system-running: %q", got)
	}
	if got := readFile(t, "/sys/module/apparmor/parameters/enabled"); got != "Y" {
		t.Errorf("AppArmor enabled = %q, want Y", got)
	}
	// The Ubuntu-only sysctl: Debian's kernel lacks it, so Check's sysctl-based detection of the
	// restriction can never fire here; only per-profile mediation exists.
	const restrict = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
	if _, err := os.Stat(restrict); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %v; Debian's kernel was not expected to have this Ubuntu sysctl", restrict, err)
	} else {
		t.Logf("recorded: %s does not exist on Debian 13 (kernel %s): it is an Ubuntu kernel patch", restrict, readFile(t, "/proc/sys/kernel/osrelease"))
	}
	// Debian 13's pasta prints its version only to a terminal; netdriver falls back to dpkg.
	if got := output(t, "dpkg-query", "-W", "-f", "${Version}", "passt"); !strings.HasPrefix(got, "0.0~git20250503.") {
		t.Errorf("passt %q, want 0.0~git20250503", got)
	}
	if pi, err := netdriver.ProbePasta(t.Context(), netdriver.LocalHost(), ""); err != nil || pi.Version.String() == "" || !strings.HasPrefix(pi.Version.Raw, "0.0~git20250503") {
		t.Errorf("netdriver.ProbePasta: %+v, %v; want 2025_05_03 from dpkg", pi, err)
	} else {
		t.Logf("pasta: %s (from %s); `pasta --version` to a pipe prints %q", pi.Version, pi.Source, output(t, "/usr/bin/pasta", "--version"))
	}
	t.Logf("nf_tables loaded before any daemon ran: %v", moduleLoaded(t, "nf_tables"))
	if _, err := netdriver.LocalHost().Sysctl("kernel.apparmor_restrict_unprivileged_userns"); err == nil {
		t.Error("netdriver.Host.Sysctl reads kernel.apparmor_restrict_unprivileged_userns, which does not exist")
	}
	for _, c := range []struct{ cmd, want string }{
		{"/usr/sbin/dockerd --version", "Docker version 26.1."},
		{"/usr/bin/rootlesskit --version", "rootlesskit version 2.0.2"},
		{"/usr/bin/slirp4netns --version", "slirp4netns version"},
	} {
		f := strings.Fields(c.cmd)
		if got := output(t, f[0], f[1:]...); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q in it", c.cmd, got, c.want)
		} else {
			t.Logf("%s: %s", c.cmd, strings.SplitN(got, "\n", 2)[0])
		}
	}
}

// TestDoctorPartialDelegation: on a healthy distro host Check reports the partial delegation
// (cpuset and io are not delegated by trixie's user@.service) as a warning, with the Delegate=
// drop-in as the fix. internal/guest/doctor's TestDoctorGuestHealthy shows that nothing there is
// an error.
func TestDoctorPartialDelegation(t *testing.T) {
	testbed.RequireGuest(t)
	rep := check(t)
	f := finding(rep, cgroupdeleg.IDNotDelegated)
	if f == nil || f.Severity != diag.Warning || !strings.Contains(f.Detail, "cpuset") || !strings.Contains(f.Detail, "io") ||
		!strings.Contains(f.Fix, "Delegate=") {
		t.Errorf("%s: %v; want a warning naming cpuset and io with the Delegate= drop-in as the fix", cgroupdeleg.IDNotDelegated, f)
	}
}

// TestCgroupLimits launches a daemon on each engine under the user's systemd (the embedded
// RootlessKit v3, and Debian's /usr/bin/rootlesskit 2.0.2) and shows that the resource limits of
// docker run are enforced through the systemd cgroup driver on cgroup v2. Both daemons have the
// default drivers (slirp4netns+builtin) and also serve a published port, for
// TestDriverCombinations.
func TestCgroupLimits(t *testing.T) {
	bed := testbed.RequireGuest(t)
	for _, eng := range []rootless.Engine{rootless.EngineEmbedded, rootless.EngineExternal} {
		t.Run(eng.String(), func(t *testing.T) {
			d := launch(t, bed, rootless.WithEngine(eng))
			if rk := d.Info().RootlessKit; eng == rootless.EngineExternal && (rk.Path != packagedRootlessKit || rk.Version.String() != "2.0.2") {
				t.Errorf("external engine is %s, want %s 2.0.2", rk, packagedRootlessKit)
			}
			// The systemd cgroup driver: no PID namespace (resolvePIDNamespace), else runc's
			// scopes fail and no container starts (checkLimits below).
			if d.Info().PIDNamespace || slices.Contains(d.Info().RootlessKitFlags, "--pidns") {
				t.Errorf("the plan has a PID namespace (flags %q) with the systemd cgroup driver; reasons %q", d.Info().RootlessKitFlags, d.Info().Reasons.PIDNamespace)
			}
			cli := testbed.Client(t, d.Host())
			info, err := cli.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if info.CgroupDriver != "systemd" || info.CgroupVersion != "2" || !slices.Contains(info.SecurityOptions, "name=rootless") {
				t.Fatalf("docker info: cgroup driver %q, version %q, security options %v; want systemd, 2, name=rootless",
					info.CgroupDriver, info.CgroupVersion, info.SecurityOptions)
			}
			if d.Info().CgroupDriver != "systemd" {
				t.Errorf("Info().CgroupDriver = %q, want systemd", d.Info().CgroupDriver)
			}
			testbed.LoadImage(t, cli, bed)
			checkLimits(t, cli, bed)
			testbed.ServeProbe(t, bed, d.Host()) // the slirp4netns+builtin pair of TestDriverCombinations
		})
	}
}

// checkLimits shows, in containers of the daemon behind cli, that --memory 64m, --cpus 0.5 and
// --pids-limit 10 are enforced, and that --cpuset-cpus is discarded while cpuset is not
// delegated (the distro phase).
func checkLimits(t *testing.T, cli *client.Client, bed *testbed.Bed) {
	t.Helper()
	hc := &container.HostConfig{Resources: container.Resources{
		Memory: 64 << 20, NanoCPUs: 500_000_000, PidsLimit: ptr(int64(10)),
	}}
	// 20 background sleeps under a limit of 10 pids: the shell must fail to fork.
	r := run(t, cli, bed, hc, "sh", "-c",
		"cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max; "+
			"for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 2 & done; wait; echo end")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) < 3 || lines[0] != "67108864" || lines[1] != "50000 100000" || lines[2] != "10" {
		t.Fatalf("--memory 64m --cpus 0.5 --pids-limit 10: memory.max, cpu.max, pids.max are %q; want 67108864, \"50000 100000\", 10 (warnings %v)", lines, r.warnings)
	}
	if !strings.Contains(r.out, "can't fork") {
		t.Errorf("--pids-limit 10 did not stop the 20 forks: %q", r.out)
	}
	t.Logf("limits: memory.max %s, cpu.max %q, pids.max %s; forks refused: %d", lines[0], lines[1], lines[2], strings.Count(r.out, "can't fork"))

	// 100 MiB in one buffer, under a 64 MiB limit (the guest has no swap). The kernel's own count
	// in memory.events is the evidence; the shell survives to read it (the OOM killer picks dd).
	r = run(t, cli, bed, &container.HostConfig{Resources: container.Resources{Memory: 64 << 20}}, "sh", "-c",
		"/bin/busybox dd if=/dev/zero of=/dev/null bs=100M count=1; echo dd exited $?; cat /sys/fs/cgroup/memory.events")
	if !strings.Contains(r.out, "dd exited 137") || !regexp.MustCompile(`(?m)^oom_kill [1-9]`).MatchString(r.out) {
		t.Errorf("a 100 MiB allocation under --memory 64m was not OOM-killed: %q", r.out)
	} else {
		t.Logf("a 100 MiB allocation under --memory 64m: dd exited 137, memory.events: %s", strings.Join(strings.Fields(r.out[strings.Index(r.out, "oom "):]), " "))
	}

	c, err := cli.ContainerCreate(t.Context(), &container.Config{Image: bed.ImageTag, Cmd: []string{"true"}},
		&container.HostConfig{Resources: container.Resources{CpusetCpus: "0"}}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = cli.ContainerRemove(t.Context(), c.ID, container.RemoveOptions{Force: true})
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(strings.ToLower(w), "cpuset") }) {
		t.Errorf("--cpuset-cpus 0 without cpuset delegated: warnings %q, want one about cpuset being discarded", c.Warnings)
	} else {
		t.Logf("--cpuset-cpus 0 before the drop-in: %q", c.Warnings)
	}
}

func ptr[T any](v T) *T { return &v }

// moduleLoaded reports whether a kernel module is loaded.
func moduleLoaded(t *testing.T, name string) bool {
	return slices.ContainsFunc(strings.Split(readFile(t, "/proc/modules"), "\n"), func(l string) bool { return strings.HasPrefix(l, name+" ") })
}

// TestDelegationDefault: trixie's user@.service delegates cpu, memory and pids; cgroupdeleg says
// so on the real host, and names cpuset and io as missing with the Delegate= drop-in as the fix
// (TestCgroupLimits shows docker discarding --cpuset-cpus meanwhile).
func TestDelegationDefault(t *testing.T) {
	testbed.RequireGuest(t)
	r, err := cgroupdeleg.Detect(t.Context(), cgroupdeleg.Host(), os.Getuid())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cgroupdeleg report:\n%s", r)
	if r.Mode != cgroupdeleg.Unified || !r.Systemd || !r.UserManager || !r.Linger || r.UserBus == "" {
		t.Errorf("mode %v systemd %v user manager %v linger %v bus %q; want unified, and a running manager with linger and bus", r.Mode, r.Systemd, r.UserManager, r.Linger, r.UserBus)
	}
	if !slices.Equal(r.Delegated, []string{"cpu", "memory", "pids"}) || !slices.Equal(r.Missing, []string{"cpuset", "io"}) {
		t.Errorf("delegated %v, missing %v; want [cpu memory pids] and [cpuset io]", r.Delegated, r.Missing)
	}
	f := r.Finding(cgroupdeleg.IDNotDelegated)
	_, body, _ := cgroupdeleg.DropIn()
	if f == nil {
		t.Fatalf("no %s finding; findings: %v", cgroupdeleg.IDNotDelegated, r.Findings)
	}
	if !strings.Contains(f.Fix, cgroupdeleg.DropInPath) || !strings.Contains(f.Fix, "Delegate=") ||
		!strings.Contains(f.Detail, "cpuset") || !strings.Contains(f.Detail, "io") {
		t.Errorf("%s: detail %q, fix %q; want cpuset and io named and the drop-in %s (%q) as the fix", f.ID, f.Detail, f.Fix, cgroupdeleg.DropInPath, body)
	}

}

// TestRootInstallDelegateDropIn (root phase) installs the drop-in cgroupdeleg.DropIn writes, for
// all five controllers, reloads systemd and restarts the test user's manager.
func TestRootInstallDelegateDropIn(t *testing.T) {
	testbed.RequireGuestRoot(t)
	u, err := testbed.GuestUser()
	if err != nil {
		t.Fatal(err)
	}
	path, body, err := cgroupdeleg.DropIn()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("installed %s:\n%s", path, body)
	output(t, "systemctl", "daemon-reload")
	unit := fmt.Sprintf("user@%d.service", u.UID)
	output(t, "systemctl", "restart", unit)
	deadline := time.Now().Add(2 * time.Minute)
	for exec.Command("systemctl", "is-active", "--quiet", unit).Run() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s is not active 2 minutes after its restart:\n%s", unit, output(t, "systemctl", "status", "--no-pager", unit))
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctrl := fmt.Sprintf("/sys/fs/cgroup/user.slice/user-%d.slice/%s/cgroup.controllers", u.UID, unit)
	t.Logf("%s after the restart: %s", ctrl, readFile(t, ctrl))
}

// TestDelegationAll runs after the drop-in: cgroupdeleg reports all five controllers delegated,
// and --cpuset-cpus 0 takes effect in the container's cgroup.
func TestDelegationAll(t *testing.T) {
	bed := testbed.RequireGuest(t)
	r, err := cgroupdeleg.Detect(t.Context(), cgroupdeleg.Host(), os.Getuid())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cgroupdeleg report:\n%s", r)
	if !slices.Equal(r.Delegated, []string{"cpu", "cpuset", "io", "memory", "pids"}) || len(r.Missing) != 0 {
		t.Errorf("delegated %v, missing %v; want all five after the drop-in", r.Delegated, r.Missing)
	}
	for _, id := range []diag.ID{cgroupdeleg.IDNotDelegated, cgroupdeleg.IDDelegatePending} {
		if f := r.Finding(id); f != nil {
			t.Errorf("finding after the drop-in and the restart: %v", f)
		}
	}
	d := launch(t, bed)
	cli := testbed.Client(t, d.Host())
	testbed.LoadImage(t, cli, bed)
	res := run(t, cli, bed, &container.HostConfig{Resources: container.Resources{CpusetCpus: "0"}},
		"cat", "/sys/fs/cgroup/cpuset.cpus", "/sys/fs/cgroup/cpuset.cpus.effective")
	if got := strings.Fields(res.out); res.code != 0 || !slices.Equal(got, []string{"0", "0"}) {
		t.Errorf("--cpuset-cpus 0: exit %d, cpuset.cpus and cpuset.cpus.effective %q (warnings %v); want 0 and 0", res.code, res.out, res.warnings)
	}
}
