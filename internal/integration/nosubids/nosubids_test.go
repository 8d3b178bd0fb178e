//go:build integration

// Package nosubids runs Check and Launch as a user who really has no subordinate ids:
// rootlessd-nosub, whom hack/provision creates without /etc/subuid and /etc/subgid entries. The
// whole package runs as that user (ROOTLESSD_TESTBED_NOSUB_USER names another one).
package nosubids

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/internal/testbed"
	"github.com/rootlessd/rootlessd/rootless"
)

func TestMain(m *testing.M) {
	rootless.Init()
	user := os.Getenv("ROOTLESSD_TESTBED_NOSUB_USER")
	if user == "" {
		user = "rootlessd-nosub"
	}
	os.Setenv(testbed.EnvUser, user)
	testbed.Main(m)
}

// TestCheckWithoutSubids: Check names the missing ranges with a command that adds a free
// range for this very user, and Launch refuses with the same finding, starting nothing.
func TestCheckWithoutSubids(t *testing.T) {
	bed := testbed.Require(t)
	u := bed.Self()
	for _, stack := range bed.Stacks {
		t.Run(stack.Name, func(t *testing.T) {
			opts := []rootless.Option{rootless.WithBinaries(rootless.Binaries{Path: []string{stack.Bin}})}
			rep, err := rootless.Check(t.Context(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			var found *diag.Finding
			for _, f := range rep.Findings {
				if f.Severity == diag.Error && errors.Is(f, idmap.IDSubidsMissing) {
					found = f
				}
			}
			if found == nil {
				t.Fatalf("no %s error for %s; findings: %v", idmap.IDSubidsMissing, u.Name, rep.Err())
			}
			if !strings.Contains(found.Fix, u.Name) || !strings.Contains(found.Fix, "usermod") {
				t.Errorf("the fix does not add ranges for %s: %q", u.Name, found.Fix)
			}
			if rep.Plan == nil || rep.Plan.Dockerd.Path == "" {
				t.Errorf("the plan did not get as far as dockerd: %+v", rep.Plan)
			}
			_, err = rootless.Launch(t.Context(), opts...)
			if !errors.Is(err, idmap.IDSubidsMissing) {
				t.Fatalf("Launch: %v; want the refusal with %s", err, idmap.IDSubidsMissing)
			}
			testbed.AssertNoProcesses(t, 0)
		})
	}
}
