//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// The metrics.
const (
	mReady      = "ready"
	mFirst      = "first"
	mMemory     = "memory"
	mThroughput = "throughput"
	mShutdown   = "shutdown"
	mCheck      = "check"
	mDensity    = "density"
	mDockerd    = "dockerd" // a diagnostic, not in the default set: it polls /proc while the start runs
)

// The contenders.
const (
	cRootlessd = "rootlessd"
	cAnchor    = "anchor"
	cFloor     = "floor"
)

// pingEvery is how often every contender's /_ping is polled.
const pingEvery = 2 * time.Millisecond

// startWait bounds one start; a start that takes longer is a failure.
const startWait = 3 * time.Minute

type drivers struct{ Net, Port string }

func (d drivers) String() string { return d.Net + "/" + d.Port }

// env is the drivers as dockerd-rootless.sh reads them; the launcher reads the same.
func (d drivers) env() []string {
	return []string{"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=" + d.Net, "DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=" + d.Port}
}

type bench struct {
	o        *options
	bed      *testbed.Bed
	user     testbed.User
	stacks   []testbed.Stack
	launcher string // examples/launcher, readable by the test user
	exe      string // this program, readable by the test user (the Check worker)
	scratch  string // root's private scratch directory
	dockerUp string // DOCKER_CONFIG for the docker CLI
	cleanup  []func() error
	res      *results
	seq      int
	// sessions are the test user's runtime directories, one per stack and contender, kept for
	// the whole run as a login session's /run/user/UID is: the contender's caches there
	// (rootlessd's probe answers) last from one start to the next, as they do for a user.
	sessions map[string]string
}

func newBench(ctx context.Context, o *options) (*bench, error) {
	bed, err := testbed.Load()
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, bed: bed, res: newResults(), sessions: map[string]string{}}
	b.user = bed.Users[0]
	if o.user != "" {
		found := false
		for _, u := range bed.Users {
			if u.Name == o.user {
				b.user, found = u, true
			}
		}
		if !found {
			return nil, fmt.Errorf("-user %s is not a test user of the bed (%v)", o.user, bed.Users)
		}
	}
	if left := testbed.ProcessesOf(b.user.UID); len(left) > 0 {
		return nil, fmt.Errorf("test user %s already runs processes (another run?): %v; pick another with -user or ROOTLESSD_TESTBED_USER", b.user.Name, left)
	}
	if len(o.stacks) == 0 {
		b.stacks = bed.Stacks
	}
	for _, name := range o.stacks {
		s, ok := bed.Stack(name)
		if !ok {
			return nil, fmt.Errorf("-stacks: the bed has no stack %q (it has %v)", name, bed.Stacks)
		}
		b.stacks = append(b.stacks, s)
	}
	if b.scratch, err = os.MkdirTemp("/var/tmp", "rootlessd-bench."); err != nil {
		return nil, err
	}
	b.cleanup = append(b.cleanup, func() error { return os.RemoveAll(b.scratch) })
	b.dockerUp = filepath.Join(b.scratch, "docker-config")
	if err := os.MkdirAll(b.dockerUp, 0o700); err != nil {
		return nil, err
	}
	exe, remove, err := testbed.ShareExecutable()
	if err != nil {
		return nil, fmt.Errorf("share this program with the test user: %w", err)
	}
	b.exe = exe
	b.cleanup = append(b.cleanup, remove)
	if b.launcher, err = b.findLauncher(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// findLauncher is -launcher, $ROOTLESSD_EXAMPLES/launcher (hack/test builds the examples
// there), or examples/launcher built now into a directory the test user can read.
func (b *bench) findLauncher(ctx context.Context) (string, error) {
	if b.o.launcher != "" {
		return b.o.launcher, nil
	}
	if dir := os.Getenv("ROOTLESSD_EXAMPLES"); dir != "" {
		return filepath.Join(dir, "launcher"), nil
	}
	dir := filepath.Dir(b.exe)
	out := filepath.Join(dir, "launcher")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./examples/launcher")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build examples/launcher (run from the repository, or pass -launcher): %v\n%s", err, msg)
	}
	return out, nil
}

func (b *bench) close() {
	for i := len(b.cleanup) - 1; i >= 0; i-- {
		if err := b.cleanup[i](); err != nil {
			fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
		}
	}
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// run measures everything asked for, round by round.
func (b *bench) run(ctx context.Context) (*results, error) {
	o := b.o
	b.res.Machine = machineInfo(o.loadLimit)
	b.res.Rounds = o.rounds
	for _, st := range b.stacks {
		b.res.Stacks = append(b.res.Stacks, stackInfo(st))
	}
	started := o.metrics[mReady] || o.metrics[mDockerd] || o.metrics[mFirst] || o.metrics[mMemory] || o.metrics[mThroughput] || o.metrics[mShutdown]
	for si, st := range b.stacks {
		for di, dv := range o.drivers {
			if why := b.cannotRun(b.res.Stacks[si], dv); why != "" {
				b.logf("%s %s: skipped: %s", st.Name, dv, why)
				b.res.Skipped = append(b.res.Skipped, fmt.Sprintf("%s %s: %s", st.Name, dv, why))
				continue
			}
			// Check and density do not depend on the drivers' data path: they run with the
			// first pair only, which keeps a full run within the hour.
			first := di == 0
			for round := range o.rounds {
				b.logf("%s %s: round %d of %d", st.Name, dv, round+1, o.rounds)
				if started {
					for _, c := range rotate([]string{cRootlessd, cAnchor, cFloor}, round) {
						if err := b.sampleStart(ctx, st, dv, c); err != nil {
							return b.res, fmt.Errorf("%s %s %s: %w", st.Name, dv, c, err)
						}
					}
				}
				if o.metrics[mThroughput] {
					if err := b.sampleLoopback(st, dv); err != nil {
						return b.res, fmt.Errorf("loopback throughput: %w", err)
					}
				}
				if o.metrics[mCheck] && first {
					for _, c := range rotate([]string{cRootlessd, cAnchor}, round) {
						if err := b.sampleCheck(ctx, st, dv, c); err != nil {
							return b.res, fmt.Errorf("%s %s check: %w", st.Name, c, err)
						}
					}
				}
				if o.metrics[mDensity] && first {
					for _, c := range rotate([]string{cRootlessd, cAnchor}, round) {
						if err := b.sampleDensity(ctx, st, dv, c); err != nil {
							return b.res, fmt.Errorf("%s %s density: %w", st.Name, c, err)
						}
					}
				}
			}
		}
	}
	b.res.Machine.LoadEnd = loadAverage()
	return b.res, nil
}

func rotate(list []string, by int) []string {
	by %= len(list)
	return append(append([]string{}, list[by:]...), list[:by]...)
}

func (b *bench) add(metric string, st testbed.Stack, dv drivers, contender string, v float64) {
	b.res.add(metric, st.Name, dv.String(), contender, v)
	if b.o.verbose {
		b.logf("  %-10s %-8s %-9s %.2f", metric, st.Name, contender, v)
	}
}

// daemon is a started contender.
type daemon struct {
	contender string
	sock      string
	started   time.Time
	pid       int
	done      <-chan struct{}
	stop      func() error // SIGTERM, then wait until the started process has exited
	output    func() string
	remove    func() error // its directories
	leftovers func() []testbed.Proc
}

func (d *daemon) host() string { return "unix://" + d.sock }

// copyCache copies rootlessd's cache directory of the session's runtime directory (if it has
// one) into runDir, owned by u.
func copyCache(session, runDir string, u testbed.User) error {
	src := filepath.Join(session, "rootlessd-cache")
	ents, err := os.ReadDir(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	dst := filepath.Join(runDir, "rootlessd-cache")
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	if err := os.Chown(dst, u.UID, u.GID); err != nil {
		return err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		p := filepath.Join(dst, e.Name())
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
		if err := os.Chown(p, u.UID, u.GID); err != nil {
			return err
		}
	}
	return nil
}

// scratchDir makes a fresh directory under base owned by uid, mode 0700.
func (b *bench) scratchDir(base string, uid, gid int) (string, error) {
	var r [4]byte
	_, _ = rand.Read(r[:])
	dir := filepath.Join(base, "rb-"+hex.EncodeToString(r[:]))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	return dir, os.Chown(dir, uid, gid)
}

// session returns the runtime directory of contender c's session on st (see bench.sessions),
// made at the first call (fresh says so) and removed at the end of the run.
func (b *bench) session(st testbed.Stack, c string) (dir string, fresh bool, err error) {
	k := st.Name + "/" + c
	if d, ok := b.sessions[k]; ok {
		return d, false, nil
	}
	u := b.user
	if dir, err = b.scratchDir(u.RuntimeDir, u.UID, u.GID); err != nil {
		return "", false, err
	}
	b.sessions[k] = dir
	b.cleanup = append(b.cleanup, func() error { return os.RemoveAll(dir) })
	return dir, true, nil
}

// A start's runtime directory: the contender's session, or one of its own (density's daemons
// run at once, and each needs its own socket), which begins with the session's caches.
const (
	inSession = false
	ownRunDir = true
)

// spawn starts contender c on st with the drivers dv; it does not wait.
func (b *bench) spawn(st testbed.Stack, dv drivers, c string, own bool) (*daemon, error) {
	if c == cFloor {
		return b.spawnFloor(st)
	}
	u := b.user
	runDir, _, err := b.session(st, c)
	if err != nil {
		return nil, err
	}
	var dirs []string // the start's own, removed when it is finished
	removeAll := func() error {
		var errs []error
		for _, d := range dirs {
			errs = append(errs, os.RemoveAll(d))
		}
		return errors.Join(errs...)
	}
	if own {
		session := runDir
		if runDir, err = b.scratchDir(u.RuntimeDir, u.UID, u.GID); err != nil {
			return nil, err
		}
		dirs = append(dirs, runDir)
		if err := copyCache(session, runDir, u); err != nil {
			removeAll()
			return nil, err
		}
	}
	dataRoot, err := b.scratchDir(u.Home, u.UID, u.GID)
	if err != nil {
		removeAll()
		return nil, err
	}
	dirs = append(dirs, dataRoot)
	prog := st.Binary("dockerd-rootless.sh")
	if c == cRootlessd {
		prog = b.launcher
	}
	env := dv.env()
	if dv.Net == "pasta" && b.bed.Pasta != "" {
		// Debian 12's pasta is older than RootlessKit's minimum; the bed's newer one comes
		// first for both contenders (the last PATH in the environment wins).
		env = append(env, "PATH="+b.bed.Pasta+":"+st.Path())
	}
	sd, err := testbed.SpawnDropIn(u, st, prog, runDir, dataRoot, env...)
	if err != nil {
		removeAll()
		return nil, err
	}
	return &daemon{contender: c, sock: sd.Socket(), started: sd.Started, pid: sd.PID(), done: sd.Done(),
		stop: sd.Stop, output: sd.Log, remove: removeAll,
		leftovers: func() []testbed.Proc { return testbed.ProcessesOf(u.UID) }}, nil
}

// waitReady waits for d's /_ping and returns the time since its start.
func (b *bench) waitReady(ctx context.Context, d *daemon) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	if err := testbed.WaitPing(ctx, d.sock, d.done, pingEvery); err != nil {
		return 0, fmt.Errorf("not ready: %w\n%s", err, tail(d.output(), 30))
	}
	return time.Since(d.started), nil
}

// finish stops d if it still runs, checks that nothing of it is left, and removes its
// directories. It returns the time the stop took.
func (b *bench) finish(d *daemon) (time.Duration, error) {
	t := time.Now()
	err := d.stop()
	took := time.Since(t)
	deadline := time.Now().Add(15 * time.Second)
	var left []testbed.Proc
	for {
		if left = d.leftovers(); len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range left {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	if len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("processes left behind after the stop: %v", left))
	}
	if err != nil {
		err = fmt.Errorf("%w\n%s", err, tail(d.output(), 30))
	}
	return took, errors.Join(err, d.remove())
}

// sampleStart starts contender c once and takes every metric of a start: ready, first
// container, memory, throughput and shutdown.
func (b *bench) sampleStart(ctx context.Context, st testbed.Stack, dv drivers, c string) (err error) {
	o := b.o
	d, err := b.spawn(st, dv, c, inSession)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_, ferr := b.finish(d)
			err = errors.Join(err, ferr)
		}
	}()
	var seen chan time.Duration
	if o.metrics[mDockerd] {
		seen = make(chan time.Duration, 1)
		go func() { seen <- waitDockerd(d) }()
	}
	ready, err := b.waitReady(ctx, d)
	if err != nil {
		return err
	}
	if seen != nil {
		if t := <-seen; t > 0 {
			b.add(mDockerd, st, dv, c, ms(t))
		}
	}
	if o.metrics[mReady] {
		b.add(mReady, st, dv, c, ms(ready))
	}
	if o.metrics[mFirst] {
		if err := b.docker(ctx, st, d, nil, "load", "-q", "-i", b.bed.Image); err != nil {
			return err
		}
		const word = "rootlessd-bench-first-container"
		if err := b.docker(ctx, st, d, []byte(word), "run", "--rm", b.bed.ImageTag, "/bin/echo", word); err != nil {
			return err
		}
		b.add(mFirst, st, dv, c, ms(time.Since(d.started)))
	}
	if o.metrics[mMemory] || o.metrics[mThroughput] || o.metrics[mShutdown] {
		if !o.metrics[mFirst] {
			if err := b.docker(ctx, st, d, nil, "load", "-q", "-i", b.bed.Image); err != nil {
				return err
			}
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		if err := b.docker(ctx, st, d, nil, "run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:5001", port), b.bed.ImageTag, "/bin/probe", "sink"); err != nil {
			return err
		}
		if c != cFloor { // the floor's port is in its private network namespace
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			if err := waitSink(ctx, addr); err != nil {
				return err
			}
			if o.metrics[mThroughput] {
				gbps, err := push(addr, o.bytes)
				if err != nil {
					return fmt.Errorf("throughput through -p %s: %w", addr, err)
				}
				b.add(mThroughput, st, dv, c, gbps)
			}
			if o.metrics[mMemory] {
				m := memoryOf(d.pid, c == cRootlessd)
				for _, r := range m.records() {
					b.add(r.metric, st, dv, c, r.value)
				}
			}
		}
	}
	stopped = true
	took, err := b.finish(d)
	if err != nil {
		return err
	}
	if o.metrics[mShutdown] {
		b.add(mShutdown, st, dv, c, ms(took))
	}
	return nil
}

// docker runs the docker CLI of st against d. With want, it returns as soon as the output
// contains want (and then waits for the command to end).
func (b *bench) docker(ctx context.Context, st testbed.Stack, d *daemon, want []byte, args ...string) error {
	cli := st.Binary("docker")
	if _, err := os.Stat(cli); err != nil {
		cli = "docker"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, append([]string{"--host", d.host()}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+b.dockerUp)
	var stderr testbed.LockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var seen strings.Builder
	found := want == nil
	sc := bufio.NewScanner(out)
	for !found && sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		found = strings.Contains(sc.Text(), string(want))
	}
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("docker %s: %v\n%s%s", strings.Join(args, " "), err, seen.String(), stderr.String())
	}
	if !found {
		return fmt.Errorf("docker %s printed %q, not %q", strings.Join(args, " "), seen.String(), want)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitSink waits until the probe's sink at addr answers a one-byte push.
func waitSink(ctx context.Context, addr string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := pushN(addr, 1)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the sink behind %s does not answer: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// push sends n bytes to the sink at addr in one TCP stream and returns Gbit/s; the sink must
// confirm the count.
func push(addr string, n int64) (float64, error) {
	took, err := pushN(addr, n)
	if err != nil {
		return 0, err
	}
	return float64(n) * 8 / took.Seconds() / 1e9, nil
}

func pushN(addr string, n int64) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	buf := make([]byte, 1<<20)
	left := n
	for left > 0 {
		k := int(min(left, int64(len(buf))))
		w, err := c.Write(buf[:k])
		if err != nil {
			return 0, err
		}
		left -= int64(w)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	reply, err := io.ReadAll(c)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	got, err := strconv.ParseInt(strings.TrimSpace(string(reply)), 10, 64)
	if err != nil || got != n {
		return 0, fmt.Errorf("sent %d bytes, the sink answered %q", n, reply)
	}
	return took, nil
}

// sampleLoopback measures the throughput floor: one stream over the host's loopback into a
// sink like the probe's.
func (b *bench) sampleLoopback(st testbed.Stack, dv drivers) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				fmt.Fprintf(c, "%d\n", n)
			}()
		}
	}()
	gbps, err := push(l.Addr().String(), b.o.bytes)
	if err != nil {
		return err
	}
	b.add(mThroughput, st, dv, cFloor, gbps)
	return nil
}

// sampleDensity starts o.density daemons of contender c at once and records the time until
// all answer, and the PSS of all their processes per daemon.
func (b *bench) sampleDensity(ctx context.Context, st testbed.Stack, dv drivers, c string) (err error) {
	n := b.o.density
	ds := make([]*daemon, 0, n)
	defer func() {
		var wg sync.WaitGroup
		errs := make([]error, len(ds))
		for i, d := range ds {
			wg.Go(func() { _, errs[i] = b.finish(d) })
		}
		wg.Wait()
		err = errors.Join(append([]error{err}, errs...)...)
	}()
	t0 := time.Now()
	for range n {
		d, err := b.spawn(st, dv, c, ownRunDir)
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() { _, errs[i] = b.waitReady(ctx, d) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	b.add(mDensity, st, dv, c, ms(time.Since(t0)))
	var pss int64
	for _, d := range ds {
		for _, p := range treeOf(d.pid) {
			pss += p.pss
		}
	}
	b.add(mDensity+"-pss", st, dv, c, kib2mib(pss)/float64(n))
	return nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// waitDockerd polls d's process tree every millisecond until a dockerd runs in it, and returns
// the time since d's start (0 if none appeared within the start's bound).
func waitDockerd(d *daemon) time.Duration {
	deadline := d.started.Add(startWait)
	for time.Now().Before(deadline) {
		for _, p := range treeOf(d.pid) {
			if p.comm == "dockerd" {
				return time.Since(d.started)
			}
		}
		select {
		case <-d.done:
			return 0
		case <-time.After(time.Millisecond):
		}
	}
	return 0
}

// cannotRun says why the anchor cannot run the drivers dv on the stack of si: the stack's
// rootlesskit has no such combination, or the test machine cannot run it (testbed.Matrix,
// which the driver tests keep true); "" if it can, or if the matrix does not know the
// stack's rootlesskit. rootlessd's embedded RootlessKit runs every combination the
// installed ones do.
func (b *bench) cannotRun(si StackInfo, dv drivers) string {
	v := strings.TrimPrefix(si.RootlessKit, "rootlesskit version ")
	engine := testbed.MatrixEngine("rootlesskit-" + v)
	known := false
	for cell := range testbed.Matrix {
		known = known || cell.Engine == engine
	}
	if !known {
		return ""
	}
	verdict, ok := testbed.Matrix[testbed.Cell{Engine: engine, Network: dv.Net, Port: dv.Port}]
	switch {
	case !ok:
		return "rootlesskit " + v + " has no such combination"
	case !verdict.Works:
		return "rootlesskit " + v + " cannot run it here: " + verdict.Why
	}
	return ""
}
