package cgroupdeleg_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
	"github.com/rootlessd/rootlessd/diag"
)

// Detect on the machine the program runs on, for the current user.
func ExampleHost() {
	r, err := cgroupdeleg.Detect(context.Background(), cgroupdeleg.Host(), os.Getuid())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("delegated:", r.Delegated)
	for _, f := range r.Findings {
		fmt.Printf("%s %s: %s\nevidence: %s\nfix:\n%s\n", f.Severity, f.ID, f.Detail, f.Evidence, f.Fix)
	}
}

// Detect on a recorded Ubuntu 22.04-like host, whose systemd 249 delegates
// only memory and pids.
func ExampleDetect() {
	sys, err := cgroupdeleg.Fixture(os.DirFS("testdata/hosts/systemd-default"))
	if err != nil {
		log.Fatal(err)
	}
	r, err := cgroupdeleg.Detect(context.Background(), sys, 1000)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("mode:", r.Mode)
	fmt.Println("cgroup:", r.Cgroup)
	fmt.Println("delegated:", r.Delegated)
	fmt.Println("missing:", r.Missing)
	f := r.Finding(cgroupdeleg.IDNotDelegated)
	fmt.Printf("%s %s\nevidence: %s\nfix:\n%s\n", f.Severity, f.ID, f.Evidence, f.Fix)
	// Output:
	// mode: unified
	// cgroup: /user.slice/user-1000.slice/user@1000.service
	// delegated: [memory pids]
	// missing: [cpu cpuset io]
	// warning cgroupdeleg.not-delegated
	// evidence: /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers: memory pids; /lib/systemd/system/user@.service:24: Delegate=pids memory
	// fix:
	// sudo mkdir -p /etc/systemd/system/user@.service.d
	// sudo tee /etc/systemd/system/user@.service.d/delegate.conf >/dev/null <<'EOF'
	// [Service]
	// Delegate=cpu cpuset io memory pids
	// EOF
	// sudo systemctl daemon-reload
	// # then log out and back in (or reboot) if /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers still lacks cpu cpuset io
}

// Ask only for what the program needs: here memory limits.
func ExampleDetect_wanted() {
	sys, err := cgroupdeleg.Fixture(os.DirFS("testdata/hosts/systemd-default"))
	if err != nil {
		log.Fatal(err)
	}
	r, err := cgroupdeleg.Detect(context.Background(), sys, 1000, "memory")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("missing:", r.Missing, "error:", r.Err())
	// Output:
	// missing: [] error: <nil>
}

// Findings of severity Error are errors with a remedy, which callers that
// do not import this package can still reach.
func ExampleReport_Err() {
	sys, err := cgroupdeleg.Fixture(os.DirFS("testdata/hosts/no-session"))
	if err != nil {
		log.Fatal(err)
	}
	r, err := cgroupdeleg.Detect(context.Background(), sys, 1001)
	if err != nil {
		log.Fatal(err)
	}
	err = r.Err()
	if f, ok := errors.AsType[*diag.Finding](err); ok {
		fmt.Println(f.Severity, f.ID, "at", f.Evidence)
	}
	if errors.Is(err, cgroupdeleg.IDNoUserManager) {
		fmt.Println("no user manager")
	}
	var rem interface{ Remedy() string } // what a package without this import checks for
	if errors.As(err, &rem) {
		fmt.Println(rem.Remedy())
	}
	// Output:
	// error cgroupdeleg.no-user-manager at /sys/fs/cgroup/user.slice/user-1001.slice/user@1001.service, /run/user/1001/systemd/private: no such file or directory
	// no user manager
	// sudo loginctl enable-linger bob
	// # or log in through a real session instead of su/sudo: ssh bob@localhost, or machinectl shell bob@
}

func ExampleDropIn() {
	path, body, err := cgroupdeleg.DropIn()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(path)
	fmt.Print(string(body))
	// Output:
	// /etc/systemd/system/user@.service.d/delegate.conf
	// [Service]
	// Delegate=cpu cpuset io memory pids
}

// Delegate= lines accumulate, an empty value resets, and systemd drops
// names it cannot delegate.
func ExampleParseDelegate() {
	d := cgroupdeleg.ParseDelegate(
		"pids memory",           // user@.service before systemd 252
		"cpu cpuset io hugetlb", // a drop-in
	)
	fmt.Println(d, "| ignored:", d.Invalid)
	fmt.Println(cgroupdeleg.ParseDelegate("pids memory", "", "cpu"))
	fmt.Println(cgroupdeleg.ParseDelegate("cpu", "yes"))
	fmt.Println(cgroupdeleg.ParseDelegate("yes", "no"))
	// Output:
	// cpu cpuset io memory pids | ignored: [hugetlb]
	// cpu
	// yes
	// no
}

func ExampleParseUnit() {
	const dropIn = "[Service]\nDelegate=\nDelegate=memory \\\n  pids\n"
	as, err := cgroupdeleg.ParseUnit("/etc/systemd/system/user@1000.service.d/zz.conf", strings.NewReader(dropIn))
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range as {
		fmt.Println(a)
	}
	// Output:
	// /etc/systemd/system/user@1000.service.d/zz.conf:2: Delegate=
	// /etc/systemd/system/user@1000.service.d/zz.conf:3: Delegate=memory pids
}

func ExampleParseProcCgroup() {
	p, err := cgroupdeleg.ParseProcCgroup(strings.NewReader(
		"1:name=systemd:/user.slice/user-1000.slice/session-3.scope\n" +
			"0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope (deleted)\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.V2, p.Deleted)
	fmt.Println(p.V1["name=systemd"])
	// Output:
	// /user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope true
	// /user.slice/user-1000.slice/session-3.scope
}

func ExampleParseSystemdVersion() {
	for _, s := range []string{"v245.4-1.fc32", "245", "systemd 255 (255.4-1ubuntu8)"} {
		v, err := cgroupdeleg.ParseSystemdVersion(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v, v >= 244)
	}
	// Output:
	// 245 true
	// 245 true
	// 255 true
}
