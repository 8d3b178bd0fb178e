//go:build integration

package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

const (
	portBytes = 32 << 20 // through the published port, host -> namespace (the bench program measures 2 GB)
	netBytes  = 16 << 20 // through the network driver, namespace -> host
	samples   = 3        // transfers each way; the table shows their median
	probePath = "/opt/rootlessd/image/probe"
)

// comboResult is one row of the driver table.
type comboResult struct {
	engine, net, port string
	verdict           string  // "works" or why not
	portGbps, netGbps float64 // 0: not measured
}

// TestDriverMatrix starts a real RootlessKit namespace for every network and port driver
// combination with our TCP sink inside, and moves bytes through it, three times each way: out
// through the network driver to a listener on the host's loopback (for lxc-user-nic, which
// cannot reach it, on the host's bridge address), and in through the published port. The table
// shows the medians. A combination this host cannot run must be refused by Check, naming the
// missing piece. The verdict of every cell is pinned (testbed.Matrix): a cell that stops
// working, or one that starts working unnoticed, fails the test.
func TestDriverMatrix(t *testing.T) {
	bed := testbed.Require(t)
	current, _ := bed.Stack("current")
	distro, _ := bed.Stack("distro")
	engines := []struct {
		name string
		cell testbed.MatrixEngine
		rk   string // "" for the embedded engine
	}{
		{"embedded", testbed.Embedded, ""},
		{"rootlesskit-" + versionOf(t, current.Binary("rootlesskit")).String(), testbed.CurrentRootlessKit, current.Binary("rootlesskit")},
		{"rootlesskit-" + versionOf(t, distro.Binary("rootlesskit")).String(), testbed.DistroRootlessKit, distro.Binary("rootlesskit")},
	}
	var mu sync.Mutex
	var results []comboResult
	t.Cleanup(func() { t.Log("driver table:\n" + formatTable(results)) })
	host := netdriver.LocalHost()
	host.PATH = current.Path()
	if bed.Pasta != "" {
		host.PATH = bed.Pasta + ":" + host.PATH // /usr/bin/pasta is too old for RootlessKit
	}
	for _, eng := range engines {
		v := netdriver.LinkedRootlessKit
		if eng.rk != "" {
			v = versionOf(t, eng.rk)
		}
		for _, netName := range netdriver.Names() {
			for _, portName := range portdriver.Names() {
				n, err := netdriver.Named(netName)
				if err != nil || !n.Properties().Namespace {
					continue // host network: no namespace, nothing to publish through
				}
				p, _ := portdriver.Named(portName)
				if portdriver.Validate(n, p) != nil {
					continue // not a combination RootlessKit accepts; Validate's own tests cover the error
				}
				if eng.rk != "" {
					_, nerr := n.Flags(v, p.Name())
					_, perr := p.Flags(v, n)
					if nerr != nil || perr != nil {
						continue // this rootlesskit lacks the driver; the flags' own tests cover that
					}
				}
				name := fmt.Sprintf("%s/%s+%s", eng.name, netName, portName)
				cell := testbed.Cell{Engine: eng.cell, Network: netName, Port: portName}
				want, pinned := testbed.Matrix[cell]
				t.Run(name, func(t *testing.T) {
					if !pinned {
						t.Fatalf("%v is not pinned in testbed.Matrix: add it with the verdict this host gives", cell)
					}
					res := runCombo(t, bed, host, eng.rk, v, n, p)
					res.engine, res.net, res.port = eng.name, netName, portName
					mu.Lock()
					results = append(results, res)
					mu.Unlock()
					switch works := strings.HasPrefix(res.verdict, "works"); {
					case want.Works && !works:
						t.Errorf("%v is pinned as working, but: %s", cell, res.verdict)
					case !want.Works && works:
						t.Errorf("%v is pinned as refused (%s), but it works: update testbed.Matrix", cell, want.Why)
					case !want.Works && !strings.Contains(res.verdict, want.Why):
						t.Errorf("%v is refused for another reason than pinned:\n got: %s\nwant: %s", cell, res.verdict, want.Why)
					}
				})
			}
		}
	}
}

func versionOf(t *testing.T, rk string) netdriver.Version {
	t.Helper()
	v, err := netdriver.RootlessKitVersion(t.Context(), netdriver.LocalHost(), rk)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// runCombo runs one combination and returns what it measured.
func runCombo(t *testing.T, bed *testbed.Bed, host *netdriver.Host, rk string, v netdriver.Version, n netdriver.Driver, p portdriver.Driver) comboResult {
	ctx := t.Context()
	checkErr := errors.Join(diag.Blocking(n.Check(ctx, host)), diag.Blocking(p.Check(ctx, host, n)))
	if checkErr != nil {
		reason := diag.Remedy(checkErr)
		if reason == "" {
			t.Fatalf("Check refused %s+%s without a remedy: %v", n.Name(), p.Name(), checkErr)
		}
		t.Logf("not available here: %v", checkErr)
		return comboResult{verdict: "no: " + firstLine(checkErr.Error())}
	}
	if gw := withHostLoopback(n); gw != nil {
		n = gw
	}
	stack, _ := bed.Stack("current")
	dir := testbed.ScratchDir(t, bed, stack, bed.Self().RuntimeDir)

	// The namespace reaches the host's loopback through the driver's gateway: a sink here
	// measures the network driver. lxc-user-nic has no way to the host's loopback, but the
	// host's address on its bridge is on the namespace's own network.
	props := n.Properties()
	sinkIP, target := "127.0.0.1", props.HostGateway
	if !target.IsValid() && n.Name() == netdriver.NameLXCUserNIC && bed.LXCBridgeAddr != "" {
		sinkIP, target = bed.LXCBridgeAddr, netip.MustParseAddr(bed.LXCBridgeAddr)
	}
	netL, err := net.Listen("tcp", net.JoinHostPort(sinkIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer netL.Close()
	netDone := make(chan measurement, samples)
	go func() {
		for range samples {
			netDone <- acceptSink(netL)
		}
	}()

	hostPort := testbed.FreePort(t)
	childPort := 5001
	if p.Name() == portdriver.NameImplicit {
		hostPort = testbed.FreeStaticPort(t) // pasta skips the host's ephemeral ports
		childPort = hostPort                 // and forwards each port bound in the namespace to the same port
	}
	script := fmt.Sprintf("exec %s sink -addr :%d", probePath, childPort)
	if target.IsValid() {
		to := net.JoinHostPort(target.String(), strconv.Itoa(netL.Addr().(*net.TCPAddr).Port))
		script = fmt.Sprintf("for i in $(seq %d); do %s push -to %s -bytes %d || exit 1; done; %s", samples, probePath, to, netBytes, script)
	}
	spec := &engine.Spec{
		StateDir: filepath.Join(dir, "rk"), Net: n, Port: p,
		PIDNS: true, CopyUp: []string{"/etc", "/run"}, Propagation: "rslave",
		Target: engine.Target{Argv: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}},
	}
	if p.Properties().API {
		spec.Publish = []portdriver.Spec{{Parent: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(hostPort)), ChildPort: uint16(childPort)}}
	}
	out := &testbed.LockedBuffer{}
	so := engine.StartOptions{RootlessKit: rk, Version: v, SpecDir: dir, Env: []string{"PATH=" + host.PATH}, Output: out}
	proc, err := engine.Start(spec, so)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = proc.Signal(syscall.SIGTERM)
		select {
		case <-proc.Done():
		case <-time.After(10 * time.Second):
			_ = proc.Kill()
			<-proc.Done()
		}
		testbed.AssertNoProcesses(t, 10*time.Second)
		if t.Failed() {
			t.Logf("engine output:\n%s", out.String())
		}
	}()
	var res comboResult
	if target.IsValid() {
		var rates []float64
		for i := range samples {
			select {
			case m := <-netDone:
				if m.err != nil || m.bytes != netBytes {
					t.Fatalf("through the network driver, transfer %d: %d bytes, %v; want %d", i+1, m.bytes, m.err, netBytes)
				}
				rates = append(rates, m.gbps())
			case <-proc.Done():
				t.Fatalf("namespace exited before pushing through the network driver (transfer %d)", i+1)
			case <-time.After(2 * time.Minute):
				t.Fatalf("transfer %d through the network driver did not finish in 2 minutes", i+1)
			}
		}
		t.Logf("net Gbit/s: %.2f", rates)
		res.netGbps = medianFloat(rates)
	}
	if p.Name() == portdriver.NameNone {
		res.verdict = "works (no published ports)"
		return res
	}
	var rates []float64
	for range samples {
		rates = append(rates, pushThroughPort(ctx, t, proc, fmt.Sprintf("127.0.0.1:%d", hostPort)).gbps())
	}
	t.Logf("port Gbit/s: %.2f", rates)
	res.portGbps = medianFloat(rates)
	res.verdict = "works"
	return res
}

func medianFloat(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// withHostLoopback returns n with host loopback allowed, if the driver can do that.
func withHostLoopback(n netdriver.Driver) netdriver.Driver {
	switch v := n.(type) {
	case netdriver.Slirp4netns:
		v.HostLoopback = true
		return v
	case netdriver.Pasta:
		v.HostLoopback = true
		return v
	case netdriver.GVisorTapVsock:
		v.HostLoopback = true
		return v
	case netdriver.VPNKit:
		v.HostLoopback = true
		return v
	}
	return nil
}

type measurement struct {
	bytes int64
	took  time.Duration
	err   error
}

func (m measurement) gbps() float64 { return float64(m.bytes) * 8 / m.took.Seconds() / 1e9 }

// acceptSink accepts one connection, counts its bytes to EOF and answers the count.
func acceptSink(l net.Listener) measurement {
	c, err := l.Accept()
	if err != nil {
		return measurement{err: err}
	}
	defer c.Close()
	start := time.Now()
	n, err := io.Copy(io.Discard, c)
	took := time.Since(start)
	fmt.Fprintf(c, "%d\n", n)
	return measurement{bytes: n, took: took, err: err}
}

// pushThroughPort sends portBytes to the sink behind addr and checks the count it answers.
func pushThroughPort(ctx context.Context, t *testing.T, proc *engine.Process, addr string) measurement {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		m, err := pushOnce(addr)
		if err == nil {
			return m
		}
		select {
		case <-proc.Done():
			t.Fatalf("namespace exited: %v", err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("push through %s: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func pushOnce(addr string) (measurement, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return measurement{}, err
	}
	defer c.Close()
	start := time.Now()
	buf := make([]byte, 256<<10)
	var sent int64
	for sent < portBytes {
		k, err := c.Write(buf[:min(int64(len(buf)), portBytes-sent)])
		sent += int64(k)
		if err != nil {
			return measurement{}, fmt.Errorf("after %d bytes: %w", sent, err)
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return measurement{}, err
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	line, err := bufio.NewReader(c).ReadString('\n')
	took := time.Since(start)
	if err != nil {
		return measurement{}, fmt.Errorf("no count from the sink: %w", err)
	}
	got, _ := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if got != portBytes {
		return measurement{}, fmt.Errorf("sink received %d bytes, sent %d", got, portBytes)
	}
	return measurement{bytes: got, took: took}, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func formatTable(rs []comboResult) string {
	slices.SortFunc(rs, func(a, b comboResult) int {
		return strings.Compare(a.engine+a.net+a.port, b.engine+b.net+b.port)
	})
	var b strings.Builder
	fmt.Fprintf(&b, "| engine | network | port | works here | net Gbps (ns->host, median of %d) | port Gbps (host->ns, median of %d) |\n|---|---|---|---|---|---|\n", samples, samples)
	f := func(x float64) string {
		if x == 0 {
			return "-"
		}
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.engine, r.net, r.port, r.verdict, f(r.netGbps), f(r.portGbps))
	}
	return b.String()
}
