package rootless

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rootlessd/rootlessd/internal/probecache"
)

// TestProbeAnswersLastTheBoot: a fresh process (a new host, with a new in-process cache) on
// the same boot starts no namespace probe that succeeded before; a failed probe is asked
// again; another device under the data root, or another user-namespace sysctl, asks again.
func TestProbeAnswersLastTheBoot(t *testing.T) {
	rt := filepath.Join(t.TempDir(), "run")
	dir := func() string { return filepath.Join(rt, "rootlessd-cache") }
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	f := debian12().dir("/home/alice/.local", 1000, 0o700).dir("/home/alice/.local/share", 1000, 0o700).
		fileID("/home/alice/.local/share", "fe:01:42")
	var started atomic.Int32
	// check runs Check in a fresh process of the fixture: the host's probes count their runs.
	check := func(f fixture) *Report {
		t.Helper()
		c, err := newConfig([]Option{WithEnviron([]string{"XDG_RUNTIME_DIR=/run/user/1000"})})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := f.host(t)
		h.probeCache, h.bootAnswers = new(sync.Map), probecache.NewAnswers(dir)
		overlay, nsRun := h.overlay, h.nsRun
		h.overlay = func(ctx context.Context, d string) ([]byte, error) { started.Add(1); return overlay(ctx, d) }
		h.nsRun = func(ctx context.Context, env []string, argv ...string) ([]byte, error) {
			started.Add(1)
			return nsRun(ctx, env, argv...)
		}
		rep, err := check(context.Background(), c, h)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	runs := func(f fixture) int32 { before := started.Load(); check(f); return started.Load() - before }

	first := runs(f)
	if first < 2 {
		t.Fatalf("the first Check started %d probes; want the overlay and the firewall's", first)
	}
	if n := runs(f); n != 0 {
		t.Errorf("a fresh process started %d probes again; want none", n)
	}
	if n := runs(f.fileID("/home/alice/.local/share", "fe:02:42")); n != 1 {
		t.Errorf("on another device the Check started %d probes; want the overlay's alone", n)
	}
	if n := runs(f.sysctl("user.max_user_namespaces", "0")); n != first {
		t.Errorf("with another user-namespace sysctl the Check started %d probes; want %d", n, first)
	}
	// Another boot's runtime directory, on a host whose overlay mount fails.
	rt = filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	broken := f.probe("overlay", "mount: /m: wrong fs type, bad option, bad superblock on overlay", errors.New("exit status 32"))
	if n := runs(broken); n != first {
		t.Errorf("the first Check of a failing overlay started %d probes; want %d", n, first)
	}
	if n := runs(broken); n != 1 {
		t.Errorf("the next Check of a failing overlay started %d probes; want the failing one asked again", n)
	}
	if rep := check(broken); rep.finding(IDOverlayUnsupported) == nil {
		t.Errorf("a failing overlay probe is not reported: %v", rep.Findings)
	}
}

// TestDockerdAnswerLastsTheBoot: what a scan of a dockerd built from source found is kept for
// the boot, like the probes' answers: a fresh process neither runs nor scans that dockerd
// again, and another version of the file is asked again.
func TestDockerdAnswerLastsTheBoot(t *testing.T) {
	rt := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	answers := probecache.NewAnswers(func() string { return filepath.Join(rt, "rootlessd-cache") })
	probe := func(f fixture) (Dockerd, int) {
		t.Helper()
		h, runs := f.host(t)
		h.dockerdCache, h.bootAnswers = new(sync.Map), answers
		info, err := probeDockerd(context.Background(), h, "/usr/bin/dockerd")
		if err != nil {
			t.Fatal(err)
		}
		return info, runs.count()["/usr/bin/dockerd --version"]
	}
	f := debian12().dockerd("library-import")
	first, n := probe(f)
	if n != 1 || !first.DetachNetNS || !first.PortsViaAPI {
		t.Fatalf("the first probe: %+v after %d runs; want the scanned features after one run", first, n)
	}
	if again, n := probe(f); n != 0 || again != first {
		t.Errorf("a fresh process: %+v after %d runs; want %+v from the kept answer, no run", again, n, first)
	}
	other := f.file("/usr/bin/dockerd", "\x7fnot an ELF... a rebuild without the features")
	if info, n := probe(other); n != 1 || info.DetachNetNS || info.PortsViaAPI {
		t.Errorf("another dockerd file: %+v after %d runs; want it asked and scanned again", info, n)
	}
}
