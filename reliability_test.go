package rootlessd

import (
	"os"
	"testing"

	"github.com/rootlessd/rootlessd/internal/reliability"
)

// TestReliabilityReport: the committed docs/reliability.md is a report the fault-injection
// suite wrote (sudo hack/reliability rewrites it from a real run). The figures are not judged:
// they change from run to run and machine to machine.
func TestReliabilityReport(t *testing.T) {
	b, err := os.ReadFile("docs/reliability.md")
	if err != nil {
		t.Fatalf("%v: commit the report of a real run (sudo hack/reliability)", err)
	}
	if err := reliability.Check(string(b)); err != nil {
		t.Errorf("docs/reliability.md is malformed: %v", err)
	}
}
