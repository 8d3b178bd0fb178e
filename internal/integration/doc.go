// Package integration holds the tests that drive real rootless Docker daemons, real RootlessKit,
// real user namespaces and real network drivers on the test bed that hack/provision prepares.
//
// They carry the build tag "integration" and run as an unprivileged test user even when go test
// runs as root (see internal/testbed):
//
//	go test -tags integration -count=1 ./internal/integration/
//
// All integration tests live in this one package, so they run one at a time: several of them
// assert that no process of the test user survives, which only holds when nothing else of that
// user runs concurrently.
package integration
