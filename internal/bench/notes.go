//go:build linux

package main

// missedWhy explains, per metric, why a target is missed on the test bed and what would close
// it; the report prints it under a missed target. The reasons come from the launcher's
// timeline (a 1 ms poll of its process tree, and `launcher --debug`) next to the script's
// (`sh -x`), on the same machine.
var missedWhy = map[string]string{
	mReady: "Why: before RootlessKit starts, rootlessd resolves the plan with the same checks as Check " +
		"(on the distro stack 150-400 ms on this loaded machine: six process starts — slirp4netns --help and --version, " +
		"the installed rootlesskit's --version for the fallback, an overlay mount and two iptables runs in fresh user namespaces — " +
		"plus Go's start of the host program), where the script execs rootlesskit after about 20 ms; and the embedded engine " +
		"re-runs the 29 MB host program three times (helper, RootlessKit child, target), where the script runs rootlesskit 1.1 " +
		"(a small program) twice and sh once. On the current stack the script's rootlesskit 3 is as heavy as the helper, " +
		"and the nftables backend spares rootlessd's dockerd its iptables runs, so rootlessd is ahead there. " +
		"What would close it: start the engine as soon as the drivers are chosen and let the namespace probes' findings " +
		"come in while RootlessKit builds the namespaces (they only explain failures; Launch would wait for them only when " +
		"the start fails or before it returns); keep probe answers across processes by program identity; and let the " +
		"RootlessKit child prepare the namespace itself, which spares the target's re-run.",
	mFirst: "Why: the first container follows the start (docker load and docker run cost the same for both: the same dockerd " +
		"and containerd); what is missed here is the start's gap above. What would close it: the same as for time to ready.",
	mMemory + "-pss": "Why: rootlessd's RootlessKit parent (the helper) and child are the host program re-run: a 29 MB Go program " +
		"that links the Docker client, gvisor and gopacket, each process with its own heap and runtime, against Debian's " +
		"rootlesskit 1.1, a small program without gvisor; against rootlesskit 3 (current stack) the two are even. " +
		"What would close it: a small helper executable for the helper and child roles (only RootlessKit's parent and child " +
		"code, no Docker client), started by the SDK instead of the host program.",
	mThroughput: "Why: both run the same RootlessKit port driver code (builtin: a Go copy loop in the parent and child, the " +
		"same in rootlesskit 3.3 and in the embedded RootlessKit), so the stream's path is the same; what differs is the load: " +
		"in the run of 2026-12-02 (load 7-14 on 2 cores) one contender's samples spread over 2-3× (rootlessd on distro " +
		"2.4-6.0 Gbit/s, the anchor 2.8-4.8), far more than the gap between the medians. " +
		"What would close it: nothing measured in rootlessd's own code; a quiet machine and more rounds to tell a real " +
		"difference from the load (the samples are in the -json file).",
	mCheck: "Why: the figure is a fresh process: Go's start of a 29 MB program and the probes' process starts (the same as for " +
		"time to ready), on a loaded machine. In a running program a repeated Check takes 3-4 ms (BenchmarkCheck), because " +
		"its probes are kept by program version. What would close it for fresh processes: keep the probe answers across " +
		"processes (in $XDG_RUNTIME_DIR, by program identity and the kernel's user-namespace settings).",
	mDensity: "Why: eight starts at once on two cores are CPU-bound, so each start's extra work (the checks' process starts, " +
		"three re-runs of the host program) adds up instead of overlapping. What would close it: the same as for time to ready, " +
		"and a helper executable that starts faster than the host program.",
}

// speedups is the report's closing section: what rootlessd does to be fast.
const speedups = `## What makes rootlessd fast

Each is on by default, chosen by what the host has, and proven by
` + "`TestSpeedupsKeepNetworking`" + ` (internal/integration: -p, outbound traffic, container-to-container
traffic and the isolation between networks still work, on both stacks):

- dockerd's nftables firewall backend where dockerd has it (Docker 29, the current stack) and nft
  is installed, unless the caller chose a backend or turned the firewall off: nft loads each
  table at once, where the iptables backend runs over a hundred iptables and ip6tables processes
  at every start. The rules are the same, for IPv4 and IPv6.
- RootlessKit reads /etc/subuid and /etc/subgid itself (--subid-source=static) when
  nsswitch.conf sends the subid database to the files: its parent no longer runs getsubids four
  times, one after the other, on the way to the namespaces.
- The host checks read the subid files directly in the same case, ask getsubids its four
  questions at once otherwise, start the network drivers' probes at once, and read a
  go-installed rootlesskit's version from its build information instead of running it.
`
