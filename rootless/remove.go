package rootless

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rootlessd/rootlessd/internal/engine"
	"github.com/rootlessd/rootlessd/netdriver"
)

// RemoveAll deletes path and everything below it, including files that containers created with
// subordinate ids, which the user cannot delete directly ("Permission denied"). It removes what
// it can as the user, then finishes the rest as root of a user namespace with the user's id
// map: what `rootlesskit rm -rf` does, without a rootlesskit binary (the embedded engine, so Init
// is needed), and with no daemon running.
//
// It refuses "/" and the home directory. Options select the engine and binaries as for Launch;
// ctx bounds the whole removal.
func RemoveAll(ctx context.Context, path string, opts ...Option) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("rootless: RemoveAll(%q): not an absolute path", path)
	}
	path = filepath.Clean(path)
	if _, home := currentUser(); path == "/" || path == filepath.Clean(home) {
		return fmt.Errorf("rootless: RemoveAll(%q): refusing to remove %s", path, path)
	}
	if err := os.RemoveAll(path); err == nil {
		return nil
	}
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	rm, err := lookPath("rm", nil, "/usr/bin:/bin")
	if err != nil {
		return err
	}
	p := &plan{c: c, log: c.logger, uid: os.Getuid()}
	if p.uid == 0 {
		return os.RemoveAll(path)
	}
	p.user, p.home = currentUser()
	if p.layout, err = resolveLayout(c, envLookup(c.environ), p.uid, p.home); err != nil {
		return err
	}
	p.pathEnv = daemonPath(c.bins.Path, envLookup(c.environ)("PATH"))
	p.host = netdriver.LocalHost()
	p.host.PATH = p.pathEnv
	if err := p.resolveEngine(ctx); err != nil {
		return err
	}
	if err := checkPrivateDir(p.layout.StateDir, p.uid); err != nil {
		return err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	cfg := &engine.Config{
		StateDir:    filepath.Join(p.layout.StateDir, "rm-"+hex.EncodeToString(b[:])),
		SubidSource: c.subidSource,
		Target:      engine.Target{Argv: []string{rm, "-rf", "--", path}, Env: []string{"PATH=/usr/bin:/bin"}},
	}
	sink := newLogSink(c.output, c.logger)
	so := engine.StartOptions{Env: append(filterEnv(c.environ), "PATH="+p.pathEnv), Output: sink}
	if p.engine == EngineExternal {
		so.RootlessKit = p.rk.path
		so.Flags = []string{"--state-dir=" + cfg.StateDir}
	}
	proc, err := engine.Start(cfg, so)
	if err != nil {
		return fmt.Errorf("rootless: RemoveAll: %w", err)
	}
	select {
	case <-proc.Done():
	case <-ctx.Done():
		_ = proc.Kill()
		<-proc.Done()
		return ctx.Err()
	}
	if code := proc.ExitCode(); code != 0 {
		awaitOutput(proc)
		return fmt.Errorf("rootless: RemoveAll(%q): rm in the user namespace exited with %d: %v", path, code, sink.Tail())
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rootless: RemoveAll(%q): still present after removal (%v)", path, err)
	}
	return nil
}
