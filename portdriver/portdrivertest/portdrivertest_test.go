package portdrivertest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
	"github.com/rootlessd/rootlessd/portdriver/portdrivertest"
)

// base is a good port driver from outside package portdriver.
type base struct{ portdriver.GVisorTapVsock }

type acceptsAnyNetwork struct{ base }

func (acceptsAnyNetwork) Flags(netdriver.Version, netdriver.Driver) ([]string, error) {
	return []string{"--port-driver=gvisor-tap-vsock"}, nil
}

type apiWithoutProtos struct{ base }

func (a apiWithoutProtos) Properties() portdriver.Properties {
	p := a.base.Properties()
	p.Protos = nil
	return p
}

type ignoresCtx struct{ base }

func (ignoresCtx) Check(context.Context, *netdriver.Host, netdriver.Driver) error { return nil }

type noRemedy struct{ base }

func (n noRemedy) Check(ctx context.Context, h *netdriver.Host, net netdriver.Driver) error {
	if err := n.base.Check(ctx, h, net); err != nil {
		return err
	}
	return errors.New("broken")
}

var broken = map[string]struct {
	d    portdriver.Driver
	want string
}{
	"accepts-any-network": {acceptsAnyNetwork{}, "Validate says incompatible"},
	"api-without-protos":  {apiWithoutProtos{}, "API true but Protos"},
	"ignores-ctx":         {ignoresCtx{}, "want context.Canceled"},
	"no-remedy":           {noRemedy{}, "is not a *diag.Finding"},
}

func TestGoodDriverPasses(t *testing.T) {
	portdrivertest.Run(t, func() portdriver.Driver { return base{} })
}

func TestBrokenDriversFail(t *testing.T) {
	if name := os.Getenv("PORTDRIVERTEST_BROKEN"); name != "" {
		portdrivertest.Run(t, func() portdriver.Driver { return broken[name].d })
		return
	}
	if testing.Short() {
		t.Skip("runs child test processes")
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenDriversFail$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "PORTDRIVERTEST_BROKEN="+name)
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
