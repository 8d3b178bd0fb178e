//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// proc is a process of a contender's tree with its memory (KiB, from smaps_rollup).
type proc struct {
	pid, ppid int
	comm      string
	pss, rss  int64
}

// treeOf lists root and its descendants, with their memory.
func treeOf(root int) []proc {
	all := map[int]proc{}
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(string(b[end+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		all[pid] = proc{pid: pid, ppid: ppid, comm: string(b[open+1 : end])}
		children[ppid] = append(children[ppid], pid)
	}
	var out []proc
	var walk func(int)
	walk = func(pid int) {
		p, ok := all[pid]
		if !ok {
			return
		}
		p.pss, p.rss = smapsRollup(pid)
		out = append(out, p)
		for _, c := range children[pid] {
			walk(c)
		}
	}
	walk(root)
	return out
}

// smapsRollup returns the Pss and Rss of pid in KiB.
func smapsRollup(pid int) (pss, rss int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "Pss":
			pss = n
		case "Rss":
			rss = n
		}
	}
	return pss, rss
}

// The roles of a contender's processes, as the memory records name them.
const (
	roleHost   = "host program"       // rootlessd's host program (the launcher itself)
	roleParent = "RootlessKit parent" // rootlesskit, or rootlessd's engine helper
	roleChild  = "RootlessKit child"
	roleNet    = "network program"
	roleProxy  = "port proxies"
)

var roles = []string{roleParent, roleChild, roleNet, roleProxy}

// memory is what one contender adds besides the engine, by role.
type memory struct {
	pss, rss map[string]int64
	host     bool
}

// memoryOf classifies the tree of root: dockerd, containerd, runc and the shims (with the
// containers under them) are the engine and not counted; the rest is what the contender adds.
// With host, root is the host program (rootlessd's launcher), counted apart; otherwise root is
// RootlessKit's parent (the script execs rootlesskit).
func memoryOf(root int, host bool) memory {
	m := memory{pss: map[string]int64{}, rss: map[string]int64{}, host: host}
	ps := treeOf(root)
	byPID := map[int]proc{}
	for _, p := range ps {
		byPID[p.pid] = p
	}
	inContainer := func(p proc) bool {
		for q, ok := byPID[p.ppid]; ok; q, ok = byPID[q.ppid] {
			if strings.HasPrefix(q.comm, "containerd-shim") {
				return true
			}
		}
		return false
	}
	for _, p := range ps {
		role := ""
		switch {
		case engineProcess(p.comm) || inContainer(p):
			continue
		case p.pid == root && host:
			role = roleHost
		case p.pid == root, host && p.ppid == root:
			role = roleParent
		case p.comm == "slirp4netns" || p.comm == "pasta" || p.comm == "vpnkit" || p.comm == "passt":
			role = roleNet
		case p.comm == "docker-proxy" || strings.HasPrefix(p.comm, "rootlesskit-doc"):
			role = roleProxy
		default:
			role = roleChild
		}
		m.pss[role] += p.pss
		m.rss[role] += p.rss
	}
	return m
}

func engineProcess(comm string) bool {
	switch {
	case comm == "dockerd", comm == "containerd", comm == "runc", comm == "docker-init",
		strings.HasPrefix(comm, "containerd-shim"):
		return true
	}
	return false
}

type memRecord struct {
	metric string
	value  float64
}

// records are the memory metrics: the added PSS and RSS in total and by role, and for
// rootlessd the total with the host program.
func (m memory) records() []memRecord {
	var out []memRecord
	var pss, rss int64
	for _, r := range roles {
		pss += m.pss[r]
		rss += m.rss[r]
		out = append(out, memRecord{"pss/" + r, kib2mib(m.pss[r])})
	}
	out = append(out, memRecord{mMemory + "-pss", kib2mib(pss)}, memRecord{mMemory + "-rss", kib2mib(rss)})
	withHost := pss + m.pss[roleHost]
	out = append(out, memRecord{mMemory + "-pss-host", kib2mib(withHost)})
	return out
}

func kib2mib(k int64) float64 { return float64(k) / 1024 }
