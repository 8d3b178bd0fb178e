package netdrivertest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/netdriver/netdrivertest"
)

// Each broken driver breaks one rule of the contract; base is a good
// driver from outside package netdriver.
type base struct{ netdriver.GVisorTapVsock }

func (base) Name() string { return "base" }

var counter atomic.Int64

type unstableName struct{ base }

func (unstableName) Name() string { return "n" + strconv.FormatInt(counter.Add(1), 10) }

type ignoresCtx struct{ base }

func (ignoresCtx) Check(context.Context, *netdriver.Host) error { return nil }

type noRemedy struct{ base }

func (noRemedy) Check(ctx context.Context, h *netdriver.Host) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("broken")
}

type acceptsZeroVersion struct{ base }

func (acceptsZeroVersion) Flags(netdriver.Version, string) ([]string, error) {
	return []string{"--net=base"}, nil
}

type badDefaultPort struct{ base }

func (b badDefaultPort) Properties() netdriver.Properties {
	p := b.base.Properties()
	p.PortDrivers = []string{"none"}
	return p
}

type nondeterministicFlags struct{ base }

func (n nondeterministicFlags) Flags(v netdriver.Version, port string) ([]string, error) {
	f, err := n.base.Flags(v, port)
	return append(f, "--x="+strconv.FormatInt(counter.Add(1), 10)), err
}

var broken = map[string]struct {
	d    netdriver.Driver
	want string
}{
	"unstable-name":          {unstableName{}, "Name() is not stable"},
	"ignores-ctx":            {ignoresCtx{}, "want an error matching context.Canceled"},
	"no-remedy":              {noRemedy{}, "is not a *diag.Finding"},
	"accepts-zero-version":   {acceptsZeroVersion{}, "Flags(zero Version) succeeded"},
	"bad-default-port":       {badDefaultPort{}, "is not in PortDrivers"},
	"nondeterministic-flags": {nondeterministicFlags{}, "is not deterministic"},
}

func TestGoodDriverPasses(t *testing.T) {
	netdrivertest.Run(t, func() netdriver.Driver { return base{} })
}

// TestBrokenDriversFail runs the suite on each broken driver in a child
// test process and expects it to fail for the right reason.
func TestBrokenDriversFail(t *testing.T) {
	if name := os.Getenv("NETDRIVERTEST_BROKEN"); name != "" {
		netdrivertest.Run(t, func() netdriver.Driver { return broken[name].d })
		return
	}
	if testing.Short() {
		t.Skip("runs child test processes")
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenDriversFail$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "NETDRIVERTEST_BROKEN="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a broken driver:\n%s", out)
			}
			if !strings.Contains(string(out), b.want) {
				t.Errorf("the suite failed, but not with %q:\n%s", b.want, out)
			}
		})
	}
}
