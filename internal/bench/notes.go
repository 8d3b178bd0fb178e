//go:build linux

package main

// missedWhy explains, per metric, why a target is missed on the test bed and what would close
// it; the report prints it under a missed target. The reasons come from the launcher's
// timeline (a 1 ms poll of its process tree, and `launcher --debug`) next to the script's
// (`sh -x`), on the same machine.
var missedWhy = map[string]string{
	mReady: "Why: rootlessd's part before dockerd is heavier than the script's: the host program (a 29 MB Go program) " +
		"starts three times (launcher, helper, RootlessKit child), and each start spends about 12 ms before main, 7-8 ms of " +
		"it in package initialisers, 4 ms of those in gopacket's, which gvisor-tap-vsock links in (GODEBUG=inittrace=1); " +
		"the script runs dash and execs Debian's small rootlesskit 1.1, whose starts take a few milliseconds. Everything " +
		"else is warm in a session: the probes' answers and the programs' versions are kept in the runtime directory, the " +
		"engine starts while the checks finish, and the child starts dockerd itself. On the current stack the script's " +
		"rootlesskit 3 is as heavy as the helper, and the nftables backend spares rootlessd's dockerd its iptables runs, so " +
		"rootlessd is ahead there. What would close the gap to the anchor: fewer or lighter Go starts (a helper executable " +
		"of RootlessKit's parent and child alone, without gvisor-tap-vsock, whose init is the largest); where the line " +
		"above says how little room the target leaves above the floor, not even that would meet it.",
	mFirst: "Why: the first container follows the start (docker load and docker run cost the same for both: the same dockerd " +
		"and containerd), so what is missed is the start's gap, plus dockerd's own spread: on the current stack its start " +
		"varies by 300 ms from one sample to the next for every contender, the floor included (see the -json samples). " +
		"What would close it: the same as for time to ready, and more rounds on a quiet machine.",
	mMemory + "-pss": "Why: rootlessd's helper and RootlessKit child are about 9.5 MiB each: 4.5 MiB of private memory (Go's " +
		"heap after the package initialisers and RootlessKit's setup, the runtime) and 5 MiB of their share of the host " +
		"program's pages; Debian's rootlesskit 1.1 parent and child are 5.6 and 4.7 MiB. The helper and the child already " +
		"hand back the 5 MiB of gopacket's decoder tables (1.94× before). A helper executable of internal/engine alone, " +
		"without gvisor-tap-vsock (17 MB), measured 8.6 and 8.4 MiB on 2026-12-02: 1 MiB less per process, because most " +
		"of the rest is RootlessKit 3's own code and Go's runtime (rootlesskit 3.3's parent alone is 15.7 MiB, and against " +
		"it rootlessd uses two thirds). What would close it: RootlessKit 3 as small as 1.1, which is upstream's code, not " +
		"ours; on this stack WithEngine(EngineExternal) runs Debian's rootlesskit 1.1 itself (not measured here).",
	mThroughput: "Why: not found. Both contenders run RootlessKit's builtin port driver (on the current stack the same " +
		"3.3 code, in rootlesskit or embedded in the helper; on distro 1.1's against 3.3's) and the stack's docker-proxy; the samples of one contender spread over 1.3-1.5× within " +
		"a run. The gap is not this session's: on 2026-12-02, on the current stack with slirp4netns, 7 interleaved rounds " +
		"each, the launcher of this session measured 0.84× the anchor and the previous session's (commit 512c46d) 0.90× on " +
		"the same machine (AMD EPYC), while the report of f703034 on an Intel Xeon machine measured 1.01-1.06× on every " +
		"pair. The plans differ only where the data does not pass: rootlessd adds a PID namespace and runs slirp4netns " +
		"without its sandbox. A system profile during the stream (perf record -a) put the container's TCP sink at 41% of " +
		"the samples under rootlessd against 31% under the script, with docker-proxy and the port driver's process alike, " +
		"and dockerd's iptables backend in place of nftables streamed the same. What would close it: finding why the same " +
		"sink spends more in the kernel's receive path on this machine, and more rounds than its spread needs.",
	mCheck: "Why: the figure is a fresh process in a session whose caches are warm: what remains is reading the host (the " +
		"subordinate ids, cgroups, sysctls, the programs' files) and the cache file. The session's first check also runs " +
		"the probes and the programs, which is the row above it. What would close it: a quieter machine; nothing " +
		"identified in the check itself.",
	mDensity: "Why: eight starts at once on two cores are CPU-bound, so each start's extra work adds up instead of " +
		"overlapping: the three Go starts of the host program (above) against the script's light ones. What would close " +
		"it: the same as for time to ready.",
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
- Launch starts the engine as soon as the plan's decisions are made, while the checks that only
  read the namespace probes' answers finish (an error-level finding among them still fails the
  launch, and everything is rolled back); the firewall probe tries only the backend dockerd
  will use.
- The embedded engine's RootlessKit child prepares the namespace and starts dockerd itself: the
  host program runs twice (helper and child), not three times.
- The programs' --version and --help answers are kept across the user's processes
  ($XDG_RUNTIME_DIR/rootlessd-cache, keyed by each program's file identity and the boot), and
  so are, for the rest of the boot, the namespace probes' successes (keyed by the programs, the
  user-namespace sysctls, the AppArmor label and the probed directory's device) and what a scan
  of a dockerd built from source found: a check or start in a warm session starts no probe.
- The conflict check asks /proc/locks (whose first read in a while waits for an RCU grace
  period, 10-16 ms here) about a data root's files only when a quick lock test finds one
  locked: a start or check on an existing data root no longer pays it (not in this report,
  whose starts each have a fresh data root; measured after it: Launch's check stage on an
  existing data root went from 15-29 ms to 5-6.5 ms).
- The helper and the RootlessKit child hand back to the kernel the 5 MiB of packet-decoder
  tables that gopacket's init fills in every process of a program that links gvisor-tap-vsock
  (they are read only by its debug mode, which RootlessKit never turns on).
`
