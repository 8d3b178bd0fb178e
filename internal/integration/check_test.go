//go:build integration

package integration

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

// TestCheckOnTestBed: the prepared host has every prerequisite, and Launch works there, so
// Check reports no error-level finding, only warnings (cgroup v1, ping, privileged ports, MTU),
// each with a remedy, after probing the namespaces for real; a driver the host lacks is a
// blocking problem that names the missing program.
func TestCheckOnTestBed(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			opts := []rootless.Option{rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}})}
			rep, err := rootless.Check(t.Context(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.Findings {
				if f.Severity == diag.Error {
					t.Errorf("error-level finding on a prepared host: %v", f)
				}
				if f.Fix == "" && f.Severity != diag.Info {
					t.Errorf("finding without a fix: %v", f)
				}
				if strings.HasPrefix(string(f.ID), "rootless.") && f.Evidence == "" {
					t.Errorf("finding without evidence: %v", f)
				}
			}
			// The probes ran here: the storage comes from the overlay probe, not the kernel's version.
			if s := rep.Docker.Storage; s.Driver == "" || !strings.Contains(strings.Join(s.Reasons, " "), "probed in") {
				t.Errorf("storage outlook %+v: want the overlay probe's answer", s)
			}
			if rep.Docker.Cgroups.Driver != "none" || rep.Distro.Family != rootless.FamilyDebian {
				t.Errorf("cgroups %+v, distro %+v: want none (cgroup v1 hybrid) on Debian", rep.Docker.Cgroups, rep.Distro)
			}
			if rep.Plan == nil || rep.Plan.Network == nil || rep.Plan.Network.Name() != "slirp4netns" {
				t.Errorf("the report's plan: %v", rep.Plan)
			}
			rep, err = rootless.Check(t.Context(), append(opts, rootless.WithNetwork(netdriver.VPNKit{}))...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(rep.Findings, func(f *diag.Finding) bool {
				return f.Severity == diag.Error && errors.Is(f, netdriver.IDBinaryMissing) && strings.Contains(f.Detail, "vpnkit")
			}) {
				t.Errorf("Check with vpnkit, which is not installed: %v; want an error-level finding naming vpnkit", rep.Findings)
			}
		})
	}
}

// TestPortsAtRunTime publishes, lists and removes a port through RootlessKit's API while the
// daemon runs, and refuses a privileged port up front with both remedies.
func TestPortsAtRunTime(t *testing.T) {
	bed := testbed.Require(t)
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			d := launch(t, bed, stack)
			cli := testbed.Client(t, d.Host())
			testbed.LoadImage(t, cli, bed)
			dockerPort := testbed.FreePort(t)
			testbed.RunProbe(t, cli, bed, dockerPort, 80)
			testbed.Get(t, fmt.Sprintf("http://127.0.0.1:%d/", dockerPort), time.Minute)

			ports := d.Ports()
			ctx := t.Context()
			// A second host port for the same service: the builtin driver dials the child
			// port inside the namespace, where docker-proxy listens on dockerPort.
			extra := testbed.FreePort(t)
			st, err := ports.Add(ctx, portdriver.Spec{Proto: portdriver.TCP,
				Parent: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(extra)), ChildPort: uint16(dockerPort)})
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if body := testbed.Get(t, fmt.Sprintf("http://127.0.0.1:%d/", extra), 30*time.Second); body != testbed.ProbeBody {
				t.Fatalf("GET through the added port: %q", body)
			}
			list, err := ports.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(list, func(s portdriver.Status) bool { return s.ID == st.ID }) {
				t.Fatalf("List %v lacks the added port %d", list, st.ID)
			}
			if err := ports.Remove(ctx, st.ID); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			list, _ = ports.List(ctx)
			if slices.ContainsFunc(list, func(s portdriver.Status) bool { return s.ID == st.ID }) {
				t.Fatalf("port %d still listed after Remove", st.ID)
			}
			_, err = ports.Add(ctx, portdriver.Spec{Proto: portdriver.TCP,
				Parent: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 80), ChildPort: uint16(dockerPort)})
			remedy := strings.ToLower(diag.Remedy(err))
			if err == nil || !strings.Contains(remedy, "ip_unprivileged_port_start") || !strings.Contains(remedy, "setcap cap_net_bind_service") {
				t.Fatalf("Add of port 80: %v (remedy %q); want a refusal with both remedies", err, diag.Remedy(err))
			}
		})
	}
}
