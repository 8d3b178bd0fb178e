package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// report is a report as Check makes it on an Ubuntu 24.04 host where this program has no
// AppArmor profile: an error, warnings and a note, the plan as far as it got, and the outlook.
func report() *rootless.Report {
	return &rootless.Report{
		Findings: []*diag.Finding{
			{ID: rootless.IDAppArmorNoProfile, Severity: diag.Error,
				Detail:   "AppArmor lets only profiled programs create user namespaces (Ubuntu >= 24.04), and no profile grants /home/alice/bin/app `userns,`",
				Evidence: "kernel.apparmor_restrict_unprivileged_userns = 1; this process: unconfined",
				Fix:      "sudo tee /etc/apparmor.d/home.alice.bin.app >/dev/null <<'EOF'\nabi <abi/4.0>,\ninclude <tunables/global>\n\n/home/alice/bin/app flags=(unconfined) {\n  userns,\n}\nEOF\nsudo apparmor_parser -r /etc/apparmor.d/home.alice.bin.app"},
			{ID: cgroupdeleg.IDNotDelegated, Severity: diag.Warning,
				Detail:   "cpuset io not delegated to alice, so docker run --cpuset-cpus, --device-*-bps/--blkio-weight are refused or ignored",
				Evidence: "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers: cpu memory pids",
				Fix:      "sudo mkdir -p /etc/systemd/system/user@.service.d\nsudo systemctl daemon-reload"},
			{ID: rootless.IDPingDisabled, Severity: diag.Warning, Detail: "ping in containers fails", Evidence: "net.ipv4.ping_group_range = 1 0",
				Fix: "echo 'net.ipv4.ping_group_range = 0 2147483647' | sudo tee /etc/sysctl.d/52-rootless-ping.conf && sudo sysctl --system"},
			{ID: rootless.IDDNSLoopback, Severity: diag.Info, Detail: "the host's resolvers are loopback only", Evidence: "/etc/resolv.conf: nameserver 127.0.0.53"},
		},
		Plan: &rootless.Plan{
			Engine:      rootless.EngineEmbedded,
			RootlessKit: rootless.RootlessKit{Version: netdriver.Version{Major: 3, Minor: 3}},
			Fallback:    &rootless.RootlessKit{Version: netdriver.Version{Major: 2}, Path: "/usr/bin/rootlesskit"},
			Dockerd:     rootless.Dockerd{Path: "/usr/bin/dockerd", Version: "29.7.2", DetachNetNS: true, PortsViaAPI: true},
			Network:     netdriver.Slirp4netns{Binary: "/usr/bin/slirp4netns", MTU: 65520},
			Port:        portdriver.Builtin{},
			MTU:         65520,
			DetachNetNS: true,
			HostGateway: netip.Addr{},
			Paths: rootless.Paths{StateDir: "/run/user/1000/rootlessd", RootlessKitStateDir: "/run/user/1000/rootlessd/dockerd-rootless",
				Socket: "/run/user/1000/rootlessd/docker.sock", ExecRoot: "/run/user/1000/rootlessd/docker",
				PIDFile: "/run/user/1000/rootlessd/docker.pid", DataRoot: "/home/alice/.local/share/docker"},
			Reasons: rootless.Reasons{
				Engine:  []string{"the embedded engine is the default: it needs no rootlesskit binary"},
				Network: []string{"slirp4netns 1.2.0 supports --netns-type; chosen first in Docker's order"},
				Port:    []string{"builtin: the default for slirp4netns"},
			},
		},
		Docker: rootless.Outlook{
			Storage: rootless.Storage{Driver: "overlayfs", Snapshotter: true, Reasons: []string{"dockerd 29.7.2 uses the containerd image store for a new data root (Docker 29)"}},
			Cgroups: rootless.Cgroups{Driver: "systemd", Version: 2, Delegated: []string{"cpu", "memory", "pids"},
				IgnoredFlags: []string{"--cpuset-cpus", "--cpuset-mems", "--blkio-weight"},
				Reasons:      []string{"cgroup v2 with systemd as init"}},
		},
		Distro: rootless.Distro{ID: "ubuntu", Version: "24.04", Name: "Ubuntu 24.04.1 LTS", Family: rootless.FamilyDebian},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s", p, got)
	}
}

func TestText(t *testing.T) {
	var plain, colored bytes.Buffer
	writeText(&plain, report(), false)
	writeText(&colored, report(), true)
	golden(t, "report.txt", plain.Bytes())
	golden(t, "report-color.txt", colored.Bytes())
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("escape sequences without colour")
	}
	if !strings.Contains(colored.String(), "\x1b[1;31m✗ rootless.apparmor-no-profile:\x1b[0m") {
		t.Error("the error is not red")
	}
	// Grouped by severity, worst first.
	s := plain.String()
	e, w, i := strings.Index(s, "Errors"), strings.Index(s, "Warnings"), strings.Index(s, "Notes")
	if e < 0 || w < e || i < w {
		t.Errorf("groups out of order: errors at %d, warnings at %d, notes at %d", e, w, i)
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := writeJSON(&b, report()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", b.Bytes())
	var back struct {
		Findings []map[string]any `json:"findings"`
		Plan     map[string]any   `json:"plan"`
		Docker   map[string]any   `json:"docker"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for _, f := range back.Findings {
		if len(f) != 5 || f["id"] == nil || f["severity"] == nil || f["detail"] == nil || f["evidence"] == nil || f["fix"] == nil {
			t.Errorf("finding %v: want exactly id, severity, detail, evidence, fix", f)
		}
	}
	if back.Plan["engine"] != "embedded" || back.Plan["findings"] != nil {
		t.Errorf("plan %v: want the plan without its findings", back.Plan)
	}
}

func TestUseColor(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if useColor(f) {
		t.Error("colour on a regular file")
	}
	if useColor(&bytes.Buffer{}) {
		t.Error("colour on a buffer")
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no terminal to test with: %v", err)
	}
	defer tty.Close()
	t.Setenv("NO_COLOR", "")
	if !useColor(tty) {
		t.Error("no colour on a terminal")
	}
	t.Setenv("NO_COLOR", "1")
	if useColor(tty) {
		t.Error("colour with NO_COLOR set")
	}
}

func TestExplain(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-explain", "-"}, strings.NewReader("[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: permission denied\n"), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "AppArmor") || !strings.Contains(out.String(), "userns,") {
		t.Errorf("exit %d, output:\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"-explain", "all is well"}, nil, &out, &errb); code != 1 {
		t.Errorf("an unknown message: exit %d, want 1 (%s)", code, out.String())
	}
	if code := run([]string{"-engine", "bogus"}, nil, &out, &errb); code != 2 {
		t.Errorf("a bad flag: exit %d, want 2", code)
	}
}
