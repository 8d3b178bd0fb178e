//go:build linux

package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// guestConf exists only inside the guest that hack/vm/build makes.
const guestConf = "/etc/rootlessd-guest.conf"

// InGuest reports whether this process runs inside the VM host's guest.
func InGuest() bool {
	_, err := os.Stat(guestConf)
	return err == nil
}

// GuestMain runs the tests of a guest package and returns the exit code for os.Exit. Outside the
// guest it only runs them (they skip, or fail when ROOTLESSD_REQUIRE_INTEGRATION=1). As the
// guest's test user it then looks for processes the tests left behind in the user's systemd
// tree, apart from the user manager itself and its bus: any such process is listed, killed,
// and turns a passing run into a failing one.
func GuestMain(m *testing.M) int {
	code := m.Run()
	if !InGuest() || os.Geteuid() == 0 {
		return code
	}
	deadline := time.Now().Add(15 * time.Second) // processes that are already dying
	for {
		left := leftInUserManager(os.Getuid())
		if len(left) == 0 {
			return code
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "testbed: FAIL: processes left behind in the user's systemd tree after the tests:\n")
			for _, p := range left {
				fmt.Fprintf(os.Stderr, "\t%d %s\n", p.PID, p.Cmdline)
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
			return max(code, 1)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// leftInUserManager lists processes of uid below user@UID.service other than this one, the
// manager (init.scope) and the session bus.
func leftInUserManager(uid int) []Proc {
	var out []Proc
	unit := fmt.Sprintf("/user@%d.service/", uid)
	for _, p := range ProcessesOf(uid) {
		cg := cgroupOf(p.PID)
		if !strings.Contains(cg, unit) || strings.HasSuffix(cg, "/init.scope") ||
			strings.HasSuffix(cg, "/dbus.service") || strings.HasSuffix(cg, "/dbus-broker.service") {
			continue
		}
		p.Cmdline += " (cgroup " + cg + ")"
		out = append(out, p)
	}
	return out
}

// cgroupOf is the cgroup v2 path of pid ("" if unknown).
func cgroupOf(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "cgroup"))
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return rest
		}
	}
	return ""
}

// RequireGuest returns the test bed inside the guest, for a test that runs as the guest's test
// user. Outside the guest it skips tb (fails it when ROOTLESSD_REQUIRE_INTEGRATION=1): guest
// tests run through the host-side test that boots the guest.
func RequireGuest(tb testing.TB) *Bed {
	tb.Helper()
	if !InGuest() {
		notInGuest(tb)
	}
	return Require(tb)
}

// RequireGuestRoot fails tb unless it runs as root inside the guest (a root phase), and skips it
// outside the guest as RequireGuest does.
func RequireGuestRoot(tb testing.TB) {
	tb.Helper()
	if !InGuest() {
		notInGuest(tb)
	}
	if os.Geteuid() != 0 {
		tb.Fatalf("this test changes the guest and must run in a root phase (uid %d)", os.Getuid())
	}
}

func notInGuest(tb testing.TB) {
	tb.Helper()
	msg := "not inside the VM host's guest (" + guestConf + " is missing); the host-side test boots it: go test -tags integration -run TestGuest ./internal/guest/"
	if os.Getenv(EnvRequire) == "1" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// GuestUser is the guest's test user as /etc/rootlessd-guest.conf names it, for root phases.
func GuestUser() (User, error) {
	kv, err := readEnvFile(guestConf)
	if err != nil {
		return User{}, err
	}
	return lookupUser(kv["GUEST_USER"])
}
