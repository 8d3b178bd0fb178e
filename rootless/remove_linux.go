//go:build linux

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
	if home := localHost("").home; path == "/" || path == filepath.Clean(home) {
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
	if os.Getuid() == 0 {
		return os.RemoveAll(path)
	}
	// Only what the removal needs: the engine and a private directory for RootlessKit. The
	// other prerequisites of a daemon may be broken; removing its data must still work.
	h := localHost(daemonPath(c.bins.Path, envLookup(c.environ)("PATH")))
	if !h.initialized {
		return fmt.Errorf("%w: RemoveAll re-runs this executable in a user namespace", ErrNoInit)
	}
	paths, err := resolveLayout(c, envLookup(c.environ), h)
	if err != nil {
		return err
	}
	r := &resolver{c: c, h: h, p: &Plan{c: c, h: h}}
	if err := r.resolveEngine(ctx); err != nil {
		return err
	}
	if err := checkPrivateDir(paths.StateDir, h.uid); err != nil {
		return err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	spec := &engine.Spec{
		StateDir:    filepath.Join(paths.StateDir, "rm-"+hex.EncodeToString(b[:])),
		SubidSource: c.subidSource.RootlessKit(),
		Target:      engine.Target{Argv: []string{rm, "-rf", "--", path}, Env: []string{"PATH=/usr/bin:/bin"}},
	}
	sink := newLogSink(c.output, c.logger)
	so := engine.StartOptions{Executable: h.executable, RootlessKit: r.p.RootlessKit.Path, Version: r.p.RootlessKit.Version,
		SpecDir: paths.StateDir, Env: append(helperEnv(c.environ), "PATH="+h.net.PATH), Output: sink}
	proc, err := engine.Start(spec, so)
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
