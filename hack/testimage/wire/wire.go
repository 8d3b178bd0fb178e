// Package wire holds what the probe program in the test image and the tests that talk to it must
// agree on.
package wire

// Body is what the probe's GET / answers.
const Body = "rootlessd-probe ok\n"

// Ports the probe listens on inside its container by default.
const (
	HTTPPort   = 80
	SinkPort   = 5001
	SourcePort = 5002
	UDPPort    = 81
)
