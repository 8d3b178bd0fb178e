package rootless

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// symptomLines are realistic lines for each entry of symptoms, keyed by a unique part of the
// entry's first needle. Sources: Docker's rootless troubleshooting guide (the seed document),
// RootlessKit v3.3.0's error formats (pkg/parent/parent.go: "newuidmap %s %v failed: %s: %w"),
// shadow's newuidmap messages, and lines captured on this machine (testdata/logs).
var symptomLines = []struct {
	needle string // selects the symptom: its first needle
	line   string
}{
	{"fork/exec /proc/self/exe: operation not permitted",
		"[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: operation not permitted"},
	{"fork/exec /proc/self/exe: no space left on device",
		"[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: no space left on device"},
	{"fork/exec /proc/self/exe: permission denied",
		"[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: permission denied"},
	{"fork/exec /proc/self/exe: permission denied", // RootlessKit's AppArmor hint (rootlesskit#421)
		`time="2026-11-28T10:00:00Z" level=warning msg="[rootlesskit:parent] This error might have happened because /proc/sys/kernel/apparmor_restrict_unprivileged_userns is set to 1" error="fork/exec /proc/self/exe: permission denied"`},
	{`apparmor="DENIED"`, // Debian 13's kernel log, seen on the VM host (TESTBED.md)
		`audit: type=1400 audit(1764633600.123:42): apparmor="DENIED" operation="userns_create" class="namespace" info="User namespace creation restricted" profile="rootlessd-guest-test" pid=1234 comm="integration.tes" requested="userns_create" denied="userns_create"`},
	{"failed to compute uid/gid map",
		`[rootlesskit:parent] error: failed to setup UID/GID map: failed to compute uid/gid map: No subuid ranges found for user 1001 ("testuser")`},
	{"missing necessary entries in /etc/subuid", // docker-library/docker's dockerd-entrypoint.sh
		"error: attempting to run rootless dockerd but missing necessary entries in /etc/subuid and/or /etc/subgid for 1000690000"},
	{"newuidmap: Could not set caps", "newuidmap: Could not set caps"},
	{"failed to compute uid/gid map", // captured: rootlesskit 1.1.0 as nobody
		readFixtureLine("rootlesskit-1.1.0-nobody.log", 1)},
	{"newuidmap", `[rootlesskit:parent] error: failed to setup UID/GID map: newuidmap 41234 [0 1000 1 1 100000 65536] failed: newuidmap: write to uid_map failed: Operation not permitted`},
	{"newgidmap", `[rootlesskit:parent] error: failed to setup UID/GID map: newgidmap 41234 [0 1000 1 1 100000 65536] failed: newgidmap: write to gid_map failed: Operation not permitted`},
	{"newuidmap\x00not allowed", `[rootlesskit:parent] error: failed to setup UID/GID map: newuidmap 41234 [0 1000 1 1 200000 65536] failed: newuidmap: uid range [1-65537) -> [200000-265536) not allowed`},
	{"newgidmap\x00not allowed", `[rootlesskit:parent] error: failed to setup UID/GID map: newgidmap 41234 [0 1000 1 1 200000 65536] failed: newgidmap: gid range [1-65537) -> [200000-265536) not allowed`},
	{"write to uid_map failed: Invalid argument", `[rootlesskit:parent] error: failed to setup UID/GID map: newuidmap 41234 [0 1000 1 1 1000 65536] failed: newuidmap: write to uid_map failed: Invalid argument`},
	{"write to gid_map failed: Invalid argument", `[rootlesskit:parent] error: failed to setup UID/GID map: newgidmap 41234 [0 1000 1 1 1000 65536] failed: newgidmap: write to gid_map failed: Invalid argument`},
	{"/dev/net/tun", `open("/dev/net/tun"): Permission denied`}, // slirp4netns's perror
	{"/dev/net/tun", `[rootlesskit:parent] error: failed to setup network: open /dev/net/tun: permission denied`},
	{"/run/xtables.lock: Permission denied",
		`time="2026-11-28T10:00:02Z" level=error msg="failed to start daemon: Error initializing network controller: error obtaining controller instance: failed to create NAT chain DOCKER: iptables failed: iptables -t nat -N DOCKER: Fatal: can't open lock file /run/xtables.lock: Permission denied\n (exit status 1)"`},
	{"can't initialize iptables table", "failed to start daemon: Error initializing network controller: error obtaining controller instance: failed to create NAT chain DOCKER: iptables failed: iptables -t nat -N DOCKER: iptables v1.8.7 (legacy): can't initialize iptables table `nat': Table does not exist (do you need to insmod?)"},
	{"Failed to initialize nft: Protocol not supported", "failed to start daemon: Error initializing network controller: error obtaining controller instance: failed to register \"bridge\" driver: failed to create NAT chain DOCKER: iptables failed: iptables --wait -t nat -N DOCKER: Failed to initialize nft: Protocol not supported (exit status 1)"},
	{"could not get XDG_RUNTIME_DIR", "could not get XDG_RUNTIME_DIR"}, // dockerd's own, as the seed quotes it
	{"XDG_RUNTIME_DIR needs to be set and writable", "XDG_RUNTIME_DIR needs to be set and writable"},
	{"Failed to connect to", "Failed to connect to bus: No such file or directory"}, // the seed: systemctl --user after sudo -iu
	{"Failed to connect to", "Failed to connect to user scope bus via local transport: $DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR not defined (consider using --machine=<user>@.host --user to connect to bus of other user)"},
	{"Aborting because rootful Docker (/var/run/docker.sock) is running", "[ERROR] Aborting because rootful Docker (/var/run/docker.sock) is running and accessible. Set --force to ignore."},
	{"conflicts with containerd-rootless.sh", "[ERROR] dockerd-rootless.sh conflicts with containerd-rootless.sh. Stop containerd-rootless.sh if it's running, and remove /run/user/1000/containerd-rootless if it still exists."},
	{"Cannot connect to the Docker daemon at unix:///var/run/docker.sock", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"},
	{"permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock", `permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.47/containers/json": dial unix /var/run/docker.sock: connect: permission denied`},
	{"Limitation discarded", "WARNING: Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded."},
	{"cgroup.controllers: no such file or directory", "docker: Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply cgroup configuration: open /sys/fs/cgroup/user.slice/user-1000.slice/cgroup.controllers: no such file or directory: unknown."},
	{"ping: permission denied (are you root?)", "ping: permission denied (are you root?)"},
	{"TLS handshake timeout", "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": net/http: TLS handshake timeout"},
	{"ensure docker is not running", readFixtureLine("dockerd-20.10.24-pidfile.log", 3)}, // captured
	{"ensure docker is not running", "failed to start daemon, ensure docker is not running or delete /run/user/1000/rootlessd/docker.pid: process with PID 42 is still running"},
	{"cannot expose privileged port",
		`docker: Error response from daemon: driver failed programming external connectivity on endpoint focused_swanson (9e2e139a9d8fc92b37c36edfa6214a6e986fa2028c0cc359812f685173fa6df7): Error starting userland proxy: error while calling PortManager.AddPort(): cannot expose privileged port 80, you might need to add "net.ipv4.ip_unprivileged_port_start=0" (currently 1024) to /etc/sysctl.conf, or set CAP_NET_BIND_SERVICE on rootlesskit binary, or choose a larger port number (>= 1024): listen tcp 0.0.0.0:80: bind: permission denied`},
	{"native.cgroupdriver=systemd requires cgroup v2", "failed to start daemon: exec-opt native.cgroupdriver=systemd requires cgroup v2 for rootless mode"},
	{"rootlesskit-docker-proxy not installed",
		`failed to start daemon: running with RootlessKit, but rootlesskit-docker-proxy not installed: exec: "rootlesskit-docker-proxy": executable file not found in $PATH`},
	{"lchown\x00operation not permitted",
		`time="2026-11-28T10:05:00Z" level=error msg="Handler for POST /v1.41/images/create returned error: failed to register layer: ApplyLayer exit status 1 stdout:  stderr: lchown /usr/bin/newgrp: operation not permitted"`},
	{"lchown\x00invalid argument",
		"docker: failed to register layer: Error processing tar file(exit status 1): lchown /etc/shadow: invalid argument"},
	{"overlay is not supported for Rootless with SELinux",
		`time="2026-11-28T10:00:01Z" level=error msg="[graphdriver] prior storage driver overlay2 failed: driver not supported: overlay is not supported for Rootless with SELinux"`},
	{"failed to mount overlay", `time="2026-11-28T10:00:01Z" level=error msg="failed to mount overlay: operation not permitted" storage-driver=overlay2`},
	{"read unix @->/run/systemd/private",
		`docker: Error response from daemon: OCI runtime create failed: container_linux.go:380: starting container process caused: process_linux.go:385: applying cgroup configuration for process caused: error while starting unit "docker-931c.scope" with properties [{Name:Delegate Value:true}]: read unix @->/run/systemd/private: read: connection reset by peer: unknown.`},
	{"Iptables not found",
		"failed to start daemon: Error initializing network controller: error obtaining controller instance: failed to create NAT chain DOCKER: Iptables not found"},
	{"could not exchange DHCP", "[rootlesskit:child ] error: could not exchange DHCP with eth0: timed out while listening for replies"}, // seen: lxc-user-nic on a bridge without dnsmasq
	{"slirp4netns", `[rootlesskit:parent] error: failed to setup network &{binary:slirp4netns mtu:65520}: exec: "slirp4netns": executable file not found in $PATH`},
	{"pasta", `[rootlesskit:parent] error: failed to setup network &{binary:pasta mtu:65520}: exec: "pasta": executable file not found in $PATH`},
	{"address already in use",
		"failed to start daemon: failed to load listeners: listen unix /run/user/1000/rootlessd/docker.sock: bind: address already in use"},
}

// readFixtureLine returns line i of testdata/logs/name; it panics at init if the fixture is gone.
func readFixtureLine(name string, i int) string {
	b, err := os.ReadFile(filepath.Join("testdata", "logs", name))
	if err != nil {
		panic(err)
	}
	return strings.Split(string(b), "\n")[i]
}

// symptomFor finds the entry whose needles, joined by NUL, equal key, or whose first needle is key.
func symptomFor(t *testing.T, key string) int {
	t.Helper()
	for i, s := range symptoms {
		if strings.Join(s.all, "\x00") == key || s.all[0] == key && len(s.all) == 1 {
			return i
		}
	}
	for i, s := range symptoms {
		if s.all[0] == key {
			return i
		}
	}
	t.Fatalf("no symptom %q", key)
	return -1
}

func TestDiagnoseEverySymptom(t *testing.T) {
	covered := make([]bool, len(symptoms))
	for _, tt := range symptomLines {
		want := symptomFor(t, tt.needle)
		covered[want] = true
		cause, remedy := diagnose([]string{tt.line})
		if cause != symptoms[want].cause || remedy != symptoms[want].remedy {
			t.Errorf("diagnose(%q)\n = %q\nwant %q (symptom %d)", tt.line, cause, symptoms[want].cause, want)
		}
	}
	for i, ok := range covered {
		if !ok {
			t.Errorf("symptom %d (%q) has no realistic line in symptomLines", i, symptoms[i].all)
		}
	}
	seen := map[string]int{}
	for i, s := range symptoms {
		if j, dup := seen[s.cause]; dup {
			t.Errorf("symptoms %d and %d share the cause %q", j, i, s.cause)
		}
		seen[s.cause] = i
		if s.cause == "" || s.remedy == "" || len(s.all) == 0 {
			t.Errorf("symptom %d is incomplete: %+v", i, s)
		}
	}
}

func TestDiagnoseOrder(t *testing.T) {
	eperm := symptomLines[0].line
	nospc := symptomLines[1].line
	pid := readFixtureLine("dockerd-20.10.24-pidfile.log", 3)
	dockerd := readFixtureLine("dockerd-20.10.24-pidfile.log", 0)
	tests := []struct {
		name  string
		lines []string
		want  string // cause of the needle's symptom; "" for none
	}{
		{"nothing", nil, ""},
		{"unknown lines", []string{dockerd, "sent tapfd=5 for tap0", "", "[rootlesskit:parent] error: unknown network mode: bogus"}, ""},
		{"newest wins", []string{eperm, nospc}, symptoms[symptomFor(t, "fork/exec /proc/self/exe: no space left on device")].cause},
		{"newest wins, reversed", []string{nospc, eperm}, symptoms[symptomFor(t, "fork/exec /proc/self/exe: operation not permitted")].cause},
		{"a known line before unknown ones", []string{dockerd, pid, dockerd, "time=\"x\" level=info msg=\"Processing signal 'terminated'\""},
			symptoms[symptomFor(t, "ensure docker is not running")].cause},
		{"needles must share a line", []string{"newuidmap 1 [0 1000 1] failed", "write failed: Operation not permitted"}, ""},
		{"case matters", []string{"FORK/EXEC /PROC/SELF/EXE: OPERATION NOT PERMITTED"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cause, remedy := diagnose(tt.lines)
			if cause != tt.want || (cause == "") != (remedy == "") {
				t.Errorf("diagnose = %q, %q; want cause %q", cause, remedy, tt.want)
			}
		})
	}
}

// TestDiagnoseGolden writes every symptom's cause and remedy, with a line that triggers it, to
// testdata/diagnose.golden, so that remedy text is reviewed as text. Refresh with -update.
func TestDiagnoseGolden(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Known failures in daemon output: the needles that must share one line, a realistic line,\n")
	b.WriteString("# and the cause and remedy that StartError and ExitError report. Generated by\n")
	b.WriteString("# TestDiagnoseGolden; refresh with: go test ./rootless -run TestDiagnoseGolden -update\n")
	for i, s := range symptoms {
		var line string
		for _, sl := range symptomLines {
			if symptomFor(t, sl.needle) == i {
				line = sl.line
				break
			}
		}
		fmt.Fprintf(&b, "\n## %d: %s\nline:   %s\ncause:  %s\nremedy: %s\n", i+1, strings.Join(s.all, " + "), line, s.cause, s.remedy)
	}
	golden := filepath.Join("testdata", "diagnose.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("%s is out of date; run with -update and review the diff", golden)
	}
}
