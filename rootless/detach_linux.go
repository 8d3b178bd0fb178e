//go:build linux

package rootless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// lifecycle is what a Daemon knows about who owns its tree.
type lifecycle struct {
	// detached: launched WithDetach, or attached; Close lets go instead of stopping it.
	detached bool
	// released: Close let go; whoever stops the daemon later cleans up after it, not us.
	released atomic.Bool
}

// daemonRecord is STATEDIR/rootlessd.json: what Attach needs to find, check and describe a detached
// daemon. Pid, start time and boot id together name one process: a dead daemon's pid that
// another process reuses has another start time.
type daemonRecord struct {
	Version   int    `json:"version"`
	PID       int    `json:"pid"`        // the tree's leader: the engine helper or rootlesskit
	StartTime uint64 `json:"start_time"` // its start in clock ticks after boot (/proc/PID/stat field 22)
	BootID    string `json:"boot_id"`
	Binder    string `json:"binder,omitempty"` // the program that binds published ports
	// The Info: the plan and what the daemon confirmed.
	Plan          json.RawMessage `json:"plan"`
	FellBack      bool            `json:"fell_back"`
	ChildPID      int             `json:"child_pid"`
	ServerVersion string          `json:"server_version"`
	StorageDriver string          `json:"storage_driver"`
	CgroupDriver  string          `json:"cgroup_driver"`
}

const recordVersion = 1

// startTree starts the engine for spec (p's): attached to this process (the default), or
// detached.
func (l *launcher) startTree(p *Plan, spec *engine.Spec, so engine.StartOptions) (*engine.Process, error) {
	if !l.c.detached {
		return engine.Start(spec, so)
	}
	log := filepath.Join(p.Paths.StateDir, daemonLogFile)
	if err := rotateLog(log); err != nil {
		return nil, err
	}
	proc, err := engine.StartDetached(spec, so, engine.Detach{Log: log, Inherit: l.locks})
	if err != nil {
		return nil, err
	}
	// Recorded at once, so that a launcher killed during start-up leaves a daemon that Attach
	// can still find (and stop); the record is completed once the daemon is ready.
	rec := filepath.Join(p.Paths.StateDir, recordFile)
	l.undo = append(l.undo, func() error {
		if err := os.Remove(rec); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	})
	if err := writeRecord(p.Paths.StateDir, proc.PID(), &Info{Plan: *p.clone(), FellBack: p.fellBack}, p.binder); err != nil {
		_ = stopProcess(proc, startupGrace)
		return nil, err
	}
	return proc, nil
}

// rotateLog keeps one previous log, once the log has grown past 8 MiB.
func rotateLog(log string) error {
	if st, err := os.Stat(log); err == nil && st.Size() > 8<<20 {
		return os.Rename(log, log+".1")
	}
	return nil
}

// detached finishes the launch of a detached daemon: it records it for Attach.
func (l *launcher) detached(d *Daemon, p *Plan) error {
	if !l.c.detached {
		return nil
	}
	d.lc.detached = true
	return writeRecord(d.info.Paths.StateDir, d.tree().PID(), &d.info, p.binder)
}

// writeRecord writes the record of the tree led by pid, running i, atomically.
func writeRecord(stateDir string, pid int, i *Info, binder string) error {
	st, err := engine.StartTime(pid)
	if err != nil {
		return fmt.Errorf("record the daemon: %w", err)
	}
	boot, err := engine.BootID()
	if err != nil {
		return fmt.Errorf("record the daemon: %w", err)
	}
	plan, err := i.Plan.MarshalJSON()
	if err != nil {
		return fmt.Errorf("record the daemon: %w", err)
	}
	b, err := json.MarshalIndent(daemonRecord{Version: recordVersion, PID: pid, StartTime: st, BootID: boot, Binder: binder,
		Plan: plan, FellBack: i.FellBack, ChildPID: i.ChildPID, ServerVersion: i.ServerVersion,
		StorageDriver: i.StorageDriver, CgroupDriver: i.CgroupDriver}, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(stateDir, recordFile)
	f, err := os.CreateTemp(stateDir, ".rootlessd-record-*") // 0600
	if err != nil {
		return fmt.Errorf("record the daemon: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("record the daemon: %w", err)
	}
	return os.Rename(f.Name(), path)
}

// decodePlan reads what Plan.MarshalJSON wrote. Drivers of other packages than netdriver and
// portdriver cannot be decoded and stay nil.
func decodePlan(b []byte) (*Plan, error) {
	type plain Plan
	p := new(Plan)
	w := struct {
		*plain
		Network json.RawMessage `json:"network"`
		Port    json.RawMessage `json:"port"`
	}{plain: (*plain)(p)}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	if len(w.Network) > 0 && string(w.Network) != "null" {
		p.Network, _ = netdriver.Decode(w.Network)
	}
	if len(w.Port) > 0 && string(w.Port) != "null" {
		p.Port, _ = portdriver.Decode(w.Port)
	}
	return p, nil
}

// letGo is Close for a detached or attached daemon: this process stops following it and drops
// its copies of the locks (the tree holds its own); the daemon runs on.
func (d *Daemon) letGo() error {
	select {
	case <-d.done:
		return nil // it had exited already; Err says why
	default:
	}
	d.lc.released.Store(true)
	d.mu.Lock()
	g := d.gen
	d.mu.Unlock()
	g.end() // no watchdog verdict, and so no stop, from a process that let go
	g.proc.Release()
	for _, f := range d.locks {
		f.Close()
	}
	d.log.Info("letting go of the detached daemon; it keeps running", slog.Int("pid", d.tree().PID()))
	return nil
}

// releaseFiles removes what the exited daemon left in its state directory, unless this process
// let go of it: then whoever stopped it cleans up, and a new daemon may already be starting.
func (d *Daemon) releaseFiles() {
	if d.lc.released.Load() {
		return
	}
	err := d.info.Paths.removeRuntimeFiles()
	if d.lc.detached {
		if rerr := os.Remove(filepath.Join(d.info.Paths.StateDir, recordFile)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	if err != nil {
		d.log.Warn("cleanup after daemon exit", slog.Any("error", err))
	}
}

// tree is the daemon's current process tree. The lifecycle code reaches the Daemon's internals
// only through tree and newAttached.
func (d *Daemon) tree() *engine.Process {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gen.proc
}

// newAttached is the Daemon of a tree that another process launched detached (Attach); its
// supervisor is not started yet. It never restarts the tree in place: that needs the
// launcher's whole configuration, and the launcher's own watchdog may be doing it.
func newAttached(info *Info, proc *engine.Process, sink *logSink, c *config) *Daemon {
	d := &Daemon{info: *info, sink: sink, log: c.logger, grace: c.stopTimeout, done: make(chan struct{}), changed: make(chan struct{})}
	d.wd = c.watchdog
	d.wd.Restart = false
	d.plan = &d.info.Plan
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.gen = d.newGeneration(started{plan: d.plan, proc: proc, info: d.info})
	d.health = Health{State: Healthy, Since: time.Now(), Checks: d.gen.checks(), Changed: d.changed}
	d.lc.detached = true
	return d
}
