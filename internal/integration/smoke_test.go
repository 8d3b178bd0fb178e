//go:build integration

package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// TestSmokeScript proves the test bed on each engine stack with that stack's own
// dockerd-rootless.sh: a container's published port answers from the host, the daemon reports
// rootless mode, and stopping it leaves no process of the test user behind.
func TestSmokeScript(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			testbed.AssertNoProcesses(t, 0)
			d := testbed.StartScript(t, bed, stack)
			t.Logf("%s: dockerd-rootless.sh ready in %v", stack.Name, d.Ready)
			cli := testbed.Client(t, d.Host)
			testbed.AssertRootless(t, cli)
			testbed.LoadImage(t, cli, bed)
			port := testbed.FreePort(t)
			id := testbed.RunProbe(t, cli, bed, port, 80)
			body := testbed.Get(t, fmt.Sprintf("http://127.0.0.1:%d/", port), time.Minute)
			if body != testbed.ProbeBody {
				t.Fatalf("GET through the published port: body %q, want %q", body, testbed.ProbeBody)
			}
			t.Logf("container %.12s answered through 127.0.0.1:%d", id, port)
			if err := d.Stop(); err != nil {
				t.Fatal(err)
			}
			testbed.AssertNoProcesses(t, 10*time.Second)
		})
	}
}
