// Package guest is the integration suite of the VM host: a Debian 13 guest under qemu with
// systemd as PID 1, cgroup v2, AppArmor and Debian's own engine stack (docker.io 26.1,
// rootlesskit 2.0.2, passt 2025_05_03), which hack/vm/build makes. It covers what the test
// bed's own machines cannot: resource limits through the systemd cgroup driver, controller
// delegation and the Delegate= drop-in, the AppArmor user-namespace denial and the fall-back to
// the packaged rootlesskit, RootlessKit v2's CLI, and pasta.
//
// The suite's tests carry the build tag "guest" and run inside the guest, as its unprivileged
// test user inside that user's systemd session, or as root in the phases that change the guest
// between them ([Phases]). On the host, TestGuest (build tag "integration", so `go test -tags
// integration ./...` runs it) builds the suite, boots the guest once with it, and fails with the
// guest's failures, each under its own name:
//
//	go test -tags integration -run TestGuest -count=1 -v ./internal/guest/
package guest
