//go:build linux

package rootless

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootlessd/rootlessd/netdriver"
)

// watched is a process of the tree whose end or stop breaks the daemon.
type watched struct {
	pid   int
	start uint64 // its start time: a recycled pid is another process
	role  string
}

// newGeneration finds the roles of st's tree and prepares its probes; watch starts them.
func (d *Daemon) newGeneration(st started) *generation {
	g := &generation{proc: st.proc, childPID: st.info.ChildPID, broken: make(chan *HealthError, 1), stop: make(chan struct{})}
	tree := descendants(st.proc.PID())
	rootExe := ""
	if len(tree) > 0 {
		rootExe = tree[0].Exe
	}
	g.names = newRoleNamer(st.plan, st.proc.PID(), rootExe)
	for _, p := range tree {
		role := g.names.role(p)
		switch {
		case p.PID == st.proc.PID(), p.PID == st.info.ChildPID, role == "dockerd":
		case g.names.network != "" && role == g.names.network && p.PPID == st.proc.PID():
		default:
			continue
		}
		g.watched = append(g.watched, watched{pid: p.PID, start: p.Start, role: role})
		if role == g.names.network {
			g.network = &g.watched[len(g.watched)-1]
		}
	}
	if g.network == nil && g.names.network != "" {
		// pasta daemonizes out of the tree; its arguments name the child's namespaces: by a
		// path in RootlessKit's state dir (detach-netns), else by the child's pid, last.
		child := strconv.Itoa(st.info.ChildPID)
		ours := func(args []string) bool {
			all := strings.Join(args, " ")
			return strings.Contains(all, st.info.Paths.RootlessKitStateDir+"/") || strings.Contains(all, "/proc/"+child+"/") ||
				len(args) > 1 && args[len(args)-1] == child
		}
		if p, ok := daemonized(g.names.network, ours); ok {
			g.watched = append(g.watched, watched{pid: p.PID, start: p.Start, role: g.names.network})
		}
	}
	for i := range g.watched { // the slice no longer moves
		if g.watched[i].role == g.names.network && g.names.network != "" {
			g.network = &g.watched[i]
		}
	}
	if st.probe != nil {
		if e, err := newEchoProbe(st.plan, st.probe); err == nil {
			g.echo = e
		} else {
			d.log.Debug("health: no network echo", slog.Any("reason", err))
		}
		st.probe.Close()
	}
	return g
}

// ending reports a tree that is going away on its own: the engine process has exited, or
// RootlessKit's child has, after which RootlessKit tears down the rest (it kills the network
// program first).
func (g *generation) ending() bool {
	select {
	case <-g.proc.Done():
		return true
	default:
	}
	for _, pid := range []int{g.proc.PID(), g.childPID} { // exited, not yet reaped
		if pid <= 0 {
			continue
		}
		if p, err := readProc(pid); err != nil || p.Exited() {
			return true
		}
	}
	return false
}

// endingSoon reports a tree that is going away on its own within endingGrace: a network
// program killed with its tree (its parent's death signal) may be seen to exit a moment before
// the parent is.
func (g *generation) endingSoon() bool {
	for deadline := time.Now().Add(endingGrace); ; {
		if g.ending() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-g.proc.Done():
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// endingGrace is how long the watchdog waits, when the network program exits, for the rest
// of its tree to show that it is exiting too.
const endingGrace = 500 * time.Millisecond

// checks lists what the watchdog probes on g now.
func (g *generation) checks() []HealthCheck {
	c := []HealthCheck{CheckProcess, CheckAPI}
	if g.echo != nil && g.echo.armed.Load() {
		c = append(c, CheckNetwork)
	}
	return c
}

// close releases what g's probes hold.
func (g *generation) close() {
	g.end()
	if g.echo != nil {
		g.echo.close()
	}
}

// watch runs g's watchdog until g ends: it waits for the network program to exit, and probes
// every Interval. It sends the verdict once, when the daemon is broken.
func (d *Daemon) watch(g *generation) {
	exited := make(chan *HealthError, 1)
	if g.network != nil {
		go waitExit(*g.network, g.stop, exited)
	}
	if g.echo != nil { // arm the network check at once if it can work here
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), d.wd.Timeout)
			defer cancel()
			if g.echo.ping(ctx) == nil {
				d.setHealth(func(h *Health) {
					if h.State != Stopped && h.State != Restarting {
						h.Checks = g.checks()
					}
				})
			}
		}()
	}
	t := time.NewTicker(d.wd.Interval)
	defer t.Stop()
	failures := 0
	fail := func(he *HealthError, now bool) bool {
		failures++
		d.setHealth(func(h *Health) { h.State, h.Failures, h.Err = Unhealthy, failures, he })
		d.log.Warn("health check failed", slog.String("check", string(he.Check)), slog.String("process", he.Process),
			slog.String("detail", he.Detail), slog.Int("failures", failures))
		if now || failures >= d.wd.Retries {
			g.broken <- he
			return true
		}
		return false
	}
	for {
		select {
		case <-g.stop:
			return
		case he := <-exited:
			if g.endingSoon() {
				continue // RootlessKit kills its network program as it exits; supervise reports why
			}
			if fail(he, true) {
				return
			}
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), d.wd.Timeout)
			he := d.probe(ctx, g)
			cancel()
			select {
			case <-g.stop: // the tree ended during the probe: supervise reports that
				return
			default:
			}
			if he != nil && he.Check == CheckProcess && g.ending() {
				continue // the tree is exiting: supervise reports why
			}
			if he == nil {
				if failures > 0 || len(d.Health().Checks) != len(g.checks()) {
					failures = 0
					d.setHealth(func(h *Health) { h.State, h.Failures, h.Err, h.Checks = Healthy, 0, nil, g.checks() })
				}
				continue
			}
			if fail(he, he.Check == CheckProcess && he.Status >= 0) {
				return
			}
		}
	}
}

// probe runs the checks on g and returns the first problem.
func (d *Daemon) probe(ctx context.Context, g *generation) *HealthError {
	for _, w := range g.watched {
		p, err := readProc(w.pid)
		switch {
		case err != nil || p.Start != w.start:
			return &HealthError{Check: CheckProcess, Process: w.role, PID: w.pid, Detail: "has exited", Status: -1}
		case p.Exited():
			return &HealthError{Check: CheckProcess, Process: w.role, PID: w.pid, Detail: exitDetail(p.Exit), Status: max(p.Exit, 0)}
		case p.Stopped():
			return &HealthError{Check: CheckProcess, Process: w.role, PID: w.pid, Detail: "is stopped (state " + string(p.State) + ")", Status: -1}
		}
	}
	for _, p := range containerds(g) {
		if p.Stopped() {
			return &HealthError{Check: CheckProcess, Process: "containerd", PID: p.PID, Detail: "is stopped (state " + string(p.State) + ")", Status: -1}
		}
	}
	if err := ping(ctx, d.info.Paths.Socket, d.wd.Timeout); err != nil {
		return &HealthError{Check: CheckAPI, Process: "dockerd", Detail: err.Error(), Status: -1}
	}
	if g.echo != nil && g.echo.armed.Load() {
		if err := g.echo.ping(ctx); err != nil {
			return &HealthError{Check: CheckNetwork, Process: g.echo.through, Detail: err.Error(), Status: -1}
		}
	}
	return nil
}

// exitDetail says how a zombie ended; status -1 when the kernel does not say.
func exitDetail(status int) string {
	if status < 0 {
		return "has exited"
	}
	return exitString(status)
}

// containerds are dockerd's containerd processes (dockerd restarts it under a new pid).
func containerds(g *generation) []procInfo {
	var out []procInfo
	for _, w := range g.watched {
		if w.role != "dockerd" {
			continue
		}
		for _, pid := range childPIDs(w.pid) {
			if p, err := readProc(pid); err == nil && g.names.role(p) == "containerd" {
				out = append(out, p)
			}
		}
	}
	return out
}

// childPIDs lists pid's children, from every thread's children file.
func childPIDs(pid int) []int {
	tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// ping asks dockerd GET /_ping on the socket within timeout.
func ping(ctx context.Context, socket string, timeout time.Duration) error {
	hc := unixHTTPClient(socket)
	hc.Timeout = timeout
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
			return fmt.Errorf("did not answer GET /_ping within %v", timeout)
		}
		return fmt.Errorf("GET /_ping: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /_ping answered %s", resp.Status)
	}
	return nil
}

// waitExit reports w's exit on exited, unless stop comes first. It waits on a pidfd (the
// runtime's poller wakes it; nothing polls), and reads the zombie's status: RootlessKit
// reaps its network program only when it exits itself.
func waitExit(w watched, stop <-chan struct{}, exited chan<- *HealthError) {
	report := func() {
		he := &HealthError{Check: CheckProcess, Process: w.role, PID: w.pid, Detail: "has exited", Status: 0}
		if p, err := readProc(w.pid); err == nil && p.Start == w.start && p.Exit >= 0 {
			he.Detail, he.Status = exitString(p.Exit), p.Exit
		}
		select {
		case exited <- he:
		case <-stop:
		}
	}
	fd, err := unix.PidfdOpen(w.pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			report()
		}
		return // an old kernel: the probes see the exit at the next interval
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	if p, err := readProc(w.pid); err != nil || p.Start != w.start { // the pid was recycled before the open
		f.Close()
		report()
		return
	}
	go func() { <-stop; f.Close() }() // unblocks the wait below
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	err = rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(pfd, 0)
		return n > 0
	})
	if err == nil {
		report()
	}
}

// echoProbe sends a datagram from the containers' network namespace to an address of the host
// and expects it back: the network driver forwarded it both ways.
type echoProbe struct {
	inside  net.PacketConn // in the containers' network namespace
	host    *net.UDPConn   // on the host, echoing
	target  net.Addr
	through string      // the network driver's name
	armed   atomic.Bool // a datagram got through once: failures count from then on
	// magic starts every datagram: "rootlessd-health " and a random token. The echo listens
	// on an address others may reach; it answers nothing that lacks the token.
	magic []byte
}

// newEchoProbe sets up the echo for plan p with the socket the target handed over (it is
// duplicated; the caller closes its copy). Drivers that put the host's own address inside the
// namespace (pasta) or have no network cannot have it.
func newEchoProbe(p *Plan, inside *os.File) (*echoProbe, error) {
	switch p.Network.Name() {
	case netdriver.NamePasta, netdriver.NameNone, netdriver.NameHost:
		return nil, fmt.Errorf("the %s network has no path to the host to probe", p.Network.Name())
	}
	addr, err := hostAddress()
	if err != nil {
		return nil, err
	}
	host, err := net.ListenUDP("udp4", &net.UDPAddr{IP: addr.AsSlice()})
	if err != nil {
		return nil, err
	}
	pc, err := net.FilePacketConn(inside)
	if err != nil {
		host.Close()
		return nil, err
	}
	var token [16]byte
	_, _ = rand.Read(token[:])
	e := &echoProbe{inside: pc, host: host, target: host.LocalAddr(), through: p.Network.Name(),
		magic: fmt.Appendf(nil, "rootlessd-health %x ", token)}
	go e.serve()
	return e, nil
}

// serve echoes the probe's datagrams until the host socket is closed.
func (e *echoProbe) serve() {
	buf := make([]byte, 128)
	for {
		n, from, err := e.host.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if bytes.HasPrefix(buf[:n], e.magic) {
			_, _ = e.host.WriteToUDP(buf[:n], from)
		}
	}
}

// ping sends one datagram and waits for it to come back until ctx ends.
func (e *echoProbe) ping(ctx context.Context) error {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	msg := fmt.Appendf(slices.Clone(e.magic), "%x", nonce)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(defaultWatchTimeout)
	}
	within := time.Until(deadline).Round(time.Millisecond)
	if _, err := e.inside.WriteTo(msg, e.target); err != nil {
		return fmt.Errorf("cannot send through %s: %v", e.through, err)
	}
	_ = e.inside.SetReadDeadline(deadline)
	buf := make([]byte, 128)
	for {
		n, _, err := e.inside.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("does not forward: a datagram to the host's %s did not come back within %v", e.target, within)
		}
		if bytes.Equal(buf[:n], msg) { // an older probe's late answer is skipped
			e.armed.Store(true)
			return nil
		}
	}
}

func (e *echoProbe) close() {
	e.inside.Close()
	e.host.Close()
}

// hostAddress is an IPv4 address of this host that the namespace reaches through the network
// driver: of an interface that is up, neither loopback nor link-local, and outside the
// namespace's and Docker's usual subnets.
func hostAddress() (netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, err
	}
	inside := []netip.Prefix{netip.MustParsePrefix("10.0.2.0/24"), netip.MustParsePrefix("172.17.0.0/16")}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			pn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(pn.IP)
			if !ok || !ip.Unmap().Is4() || !ip.IsGlobalUnicast() {
				continue
			}
			ip = ip.Unmap()
			if inside[0].Contains(ip) || inside[1].Contains(ip) {
				continue
			}
			return ip, nil
		}
	}
	return netip.Addr{}, errors.New("the host has no IPv4 address besides loopback that the namespace could reach")
}
