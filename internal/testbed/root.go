//go:build linux

package testbed

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
)

// A RootStep is something a test needs done as root while it runs as the test user: a sysctl,
// a file capability, an sshd. The test package registers its steps with SetRootSteps; Main,
// which runs as root, serves them on a socket that only the test user can reach, and a test
// asks for one with AsRoot. Only registered steps run, with arguments the step checks itself.
type RootStep struct {
	// Do runs as root in the test binary's root process. It returns the output for the test and
	// an undo func (or nil), which runs when the test's cleanup asks for it, or, if the test
	// never did (it crashed), after all the tests.
	Do func(args []string) (out string, undo func() error, err error)
}

var (
	rootSteps map[string]RootStep
	// rootBinary is the test binary the test user runs, for steps that act on it.
	rootBinary string
)

// SetRootSteps registers the root steps of a test package. Call it in TestMain before Main.
func SetRootSteps(steps map[string]RootStep) { rootSteps = steps }

// TestBinary is, in a root step, the path of the test binary that the test user runs.
func TestBinary() string { return rootBinary }

// envRootAgent names the socket of the root agent in the test user's environment.
const envRootAgent = "ROOTLESSD_TESTBED_ROOT_AGENT"

type rootRequest struct {
	Step string   `json:"step,omitempty"`
	Args []string `json:"args,omitempty"`
	Undo int      `json:"undo,omitempty"`
}

type rootResponse struct {
	Out  string `json:"out"`
	Err  string `json:"err,omitempty"`
	Undo int    `json:"undo,omitempty"`
}

// rootAgent serves the registered steps to the test user.
type rootAgent struct {
	dir  string
	l    net.Listener
	mu   sync.Mutex
	next int
	undo map[int]func() error
	wg   sync.WaitGroup
}

// startRootAgent listens on a socket that only u (and root) can use. It returns nil when the
// package registered no steps.
func startRootAgent(u User, testBinary string) (*rootAgent, error) {
	if len(rootSteps) == 0 {
		return nil, nil
	}
	rootBinary = testBinary
	dir, err := os.MkdirTemp("/var/tmp", "rootlessd-root.")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	if err := os.Chown(sock, u.UID, u.GID); err != nil {
		l.Close()
		return nil, err
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	a := &rootAgent{dir: dir, l: l, undo: map[int]func() error{}}
	a.wg.Go(a.serve)
	return a, nil
}

func (a *rootAgent) env() []string {
	if a == nil {
		return nil
	}
	return []string{envRootAgent + "=" + filepath.Join(a.dir, "agent.sock")}
}

func (a *rootAgent) serve() {
	for {
		c, err := a.l.Accept()
		if err != nil {
			return
		}
		a.handle(c)
	}
}

func (a *rootAgent) handle(c net.Conn) {
	defer c.Close()
	var req rootRequest
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		return
	}
	var resp rootResponse
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case req.Undo != 0:
		f, ok := a.undo[req.Undo]
		delete(a.undo, req.Undo)
		if !ok {
			resp.Err = fmt.Sprintf("no undo %d", req.Undo)
		} else if err := f(); err != nil {
			resp.Err = err.Error()
		}
	default:
		step, ok := rootSteps[req.Step]
		if !ok {
			resp.Err = fmt.Sprintf("no root step %q", req.Step)
			break
		}
		out, undo, err := step.Do(req.Args)
		resp.Out = out
		if err != nil {
			resp.Err = err.Error()
		}
		if undo != nil {
			a.next++
			a.undo[a.next] = undo
			resp.Undo = a.next
		}
	}
	_ = json.NewEncoder(c).Encode(resp)
}

// close stops serving and runs the undos no test ran, newest first; it reports their errors.
func (a *rootAgent) close() error {
	if a == nil {
		return nil
	}
	a.l.Close()
	a.wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]int, 0, len(a.undo))
	for id := range a.undo {
		ids = append(ids, id)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ids)))
	var errs []error
	for _, id := range ids {
		fmt.Fprintf(os.Stderr, "testbed: undoing root step %d, which its test left behind\n", id)
		errs = append(errs, a.undo[id]())
	}
	errs = append(errs, os.RemoveAll(a.dir))
	return errors.Join(errs...)
}

// AsRoot has root run the registered step with args and returns its output. Its undo, if any,
// runs at tb's cleanup. Without a root agent (the tests were not started as root) it skips tb,
// or fails it with ROOTLESSD_REQUIRE_INTEGRATION=1.
func AsRoot(tb testing.TB, step string, args ...string) string {
	tb.Helper()
	sock := os.Getenv(envRootAgent)
	if sock == "" {
		msg := "root steps need the tests started as root (go test as root runs them through testbed.Main)"
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	resp, err := askRoot(sock, rootRequest{Step: step, Args: slices.Clone(args)})
	if err != nil {
		tb.Fatalf("root step %s: %v", step, err)
	}
	if resp.Undo != 0 {
		tb.Cleanup(func() {
			if r, err := askRoot(sock, rootRequest{Undo: resp.Undo}); err != nil || r.Err != "" {
				tb.Errorf("undo of root step %s: %v %s", step, err, r.Err)
			}
		})
	}
	if resp.Err != "" {
		tb.Fatalf("root step %s %q: %s\n%s", step, args, resp.Err, resp.Out)
	}
	return resp.Out
}

func askRoot(sock string, req rootRequest) (rootResponse, error) {
	var resp rootResponse
	c, err := net.Dial("unix", sock)
	if err != nil {
		return resp, err
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return resp, err
	}
	err = json.NewDecoder(c).Decode(&resp)
	return resp, err
}
