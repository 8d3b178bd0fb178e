//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

// checkResult is what the Check worker prints.
type checkResult struct {
	Millis float64  `json:"ms"`
	Errors []string `json:"errors,omitempty"` // error-level findings
	Err    string   `json:"err,omitempty"`
}

// sampleCheck times one host check of contender c, each in a fresh process as the test user
// in the contender's check session (see bench.sessions):
// rootless.Check called once by this program's Check worker, or dockerd-rootless-setuptool.sh
// check from its start to its exit.
func (b *bench) sampleCheck(ctx context.Context, st testbed.Stack, dv drivers, c string) error {
	u := b.user
	// The checks of a contender share a session of their own (not the starts'): the first of
	// them finds its runtime directory empty, as after a reboot or at a new login.
	runDir, first, err := b.session(st, "check-"+c)
	if err != nil {
		return err
	}
	env := append([]string{"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name,
		"XDG_RUNTIME_DIR=" + runDir, "PATH=" + st.Path()}, dv.env()...)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if c == cRootlessd {
		cmd = exec.CommandContext(ctx, b.exe, st.Bin)
		env = append(env, envRole+"="+roleCheck)
	} else {
		cmd = exec.CommandContext(ctx, st.Binary("dockerd-rootless-setuptool.sh"), "check")
	}
	cmd.Env, cmd.Dir = env, runDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential(), Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if c == cAnchor {
		// Debian's 20.10 script reports ip_tables missing on kernels with built-in modules
		// (/proc/modules does not exist): a false error, but the time it took is what counts.
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return fmt.Errorf("dockerd-rootless-setuptool.sh check: %w", err)
		}
		b.addCheck(st, dv, c, ms(took), first)
		return nil
	}
	if err != nil {
		return fmt.Errorf("the Check worker: %v\n%s", err, out)
	}
	var r checkResult
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("the Check worker printed %q: %w", out, err)
	}
	if r.Err != "" || len(r.Errors) > 0 {
		return fmt.Errorf("rootless.Check: %s %s", r.Err, strings.Join(r.Errors, "; "))
	}
	b.addCheck(st, dv, c, r.Millis, first)
	return nil
}

// addCheck records a check's time: every check counts in the medians, and the session's first
// is also kept alone.
func (b *bench) addCheck(st testbed.Stack, dv drivers, c string, v float64, first bool) {
	b.add(mCheck, st, dv, c, v)
	if first {
		b.add(mCheck+"-first", st, dv, c, v)
	}
}

// runCheckRole is the Check worker: it runs rootless.Check once with the stack's binaries first
// (os.Args[1]) and the script's variables of its environment, and prints a checkResult.
func runCheckRole() int {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "bench check: no stack directory given")
		return 2
	}
	opts := []rootless.Option{
		rootless.WithBinaries(rootless.Binaries{Path: []string{os.Args[1]}}),
		rootless.WithScriptEnv(os.Environ()),
		rootless.WithStateDir(os.Getenv("XDG_RUNTIME_DIR")),
	}
	start := time.Now()
	rep, err := rootless.Check(context.Background(), opts...)
	r := checkResult{Millis: ms(time.Since(start))}
	if err != nil {
		r.Err = err.Error()
	}
	if rep != nil {
		for _, f := range rep.Findings {
			if f.Severity == diag.Error {
				r.Errors = append(r.Errors, string(f.ID)+": "+f.Detail)
			}
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
	return 0
}
