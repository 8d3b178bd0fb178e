package netdriver_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
)

// Flags for an external rootlesskit binary depend on its version.
func ExampleSlirp4netns_Flags() {
	d := netdriver.Slirp4netns{} // Docker's defaults
	distro, _ := netdriver.ParseVersion("rootlesskit version 1.1.0")
	for _, v := range []netdriver.Version{distro, netdriver.LinkedRootlessKit} {
		f, err := d.Flags(v, "builtin")
		fmt.Println(v, f, err)
	}
	// Output:
	// 1.1.0 [--net=slirp4netns --mtu=65520 --disable-host-loopback --slirp4netns-sandbox=auto --slirp4netns-seccomp=auto] <nil>
	// 3.3.0 [--net=slirp4netns --mtu=65520 --disable-host-loopback --slirp4netns-sandbox=auto --slirp4netns-seccomp=auto] <nil>
}

// A driver the RootlessKit version lacks is refused with the version it needs.
func ExampleGVisorTapVsock_Flags() {
	_, err := netdriver.GVisorTapVsock{}.Flags(netdriver.Version{Major: 1, Minor: 1}, "")
	fmt.Println(err)
	fmt.Println(errors.Is(err, netdriver.IDRootlessKitTooOld))
	f, _ := netdriver.GVisorTapVsock{}.Flags(netdriver.LinkedRootlessKit, "")
	fmt.Println(f)
	// Output:
	// netdriver.rootlesskit-too-old: gvisor-tap-vsock: --net=gvisor-tap-vsock needs RootlessKit 3.0.0 or later; have 1.1.0 (fix: upgrade RootlessKit to 3.0.0 or later, or use the embedded engine (RootlessKit 3.3.0))
	// true
	// [--net=gvisor-tap-vsock --mtu=65520 --disable-host-loopback]
}

// A driver value is checked on the host, then given the settings a caller wants; Describe says
// what was found. The host here is a fixture with a current pasta.
func ExampleApply() {
	outputs := map[string]string{
		"/usr/bin/slirp4netns --help":    "Usage: slirp4netns [OPTION]... PID TAPNAME\n--cidr=CIDR\n--api-socket=PATH\n",
		"/usr/bin/slirp4netns --version": "slirp4netns version 0.3.0\n",
		"/usr/bin/pasta --version":       "pasta 2025_01_21.4f2c8e7\nCopyright Red Hat\n",
	}
	h := &netdriver.Host{
		PATH: "/usr/bin",
		FS: fstest.MapFS{
			"usr/bin/slirp4netns": {Mode: 0o755},
			"usr/bin/pasta":       {Mode: 0o755},
			"usr/bin/ip":          {Mode: 0o755},
			"usr/bin/nsenter":     {Mode: 0o755},
		},
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			out, ok := outputs[strings.Join(append([]string{name}, args...), " ")]
			if !ok {
				return nil, errors.New("exit status 1")
			}
			return []byte(out), nil
		},
	}
	d := netdriver.Driver(netdriver.Pasta{})
	if err := d.Check(context.Background(), h); err != nil {
		fmt.Println(err)
		return
	}
	d, err := netdriver.Apply(d, netdriver.Settings{MTU: 1500, HostLoopback: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := d.Properties()
	fmt.Println(netdriver.Describe(context.Background(), h, d))
	fmt.Println(d.Name(), p.DefaultPortDriver, p.MTU, p.HostGateway)
	// Output:
	// pasta 2025_01_21.4f2c8e7 (from "/usr/bin/pasta --version")
	// pasta implicit 1500 10.0.2.2
}

// Drivers travel between processes as JSON tagged with their name.
func ExampleEncode() {
	b, _ := netdriver.Encode(netdriver.Pasta{MTU: 1500, HostLoopback: true})
	fmt.Println(string(b))
	d, _ := netdriver.Decode(b)
	fmt.Println(d == netdriver.Pasta{MTU: 1500, HostLoopback: true})
	// Output:
	// {"driver":"pasta","config":{"mtu":1500,"hostLoopback":true}}
	// true
}

// Check says what is missing and how to fix it.
func ExamplePasta_Check() {
	h := &netdriver.Host{
		PATH: "/usr/bin",
		FS:   fstest.MapFS{"usr/bin/ip": {Mode: 0o755}},
	}
	err := netdriver.Pasta{}.Check(context.Background(), h)
	for _, p := range diag.List(err) {
		fmt.Println(p.ID, "|", p.Remedy())
	}
	// Output:
	// netdriver.binary-missing | install passt 2023_12_04 or later (apt-get install passt; dnf install passt), or an upstream build from https://passt.top
}
