package portdriver_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/portdriver"
)

// Validate names the valid choices on both sides.
func ExampleValidate() {
	err := portdriver.Validate(netdriver.Slirp4netns{}, portdriver.Implicit{})
	fmt.Println(err)
	fmt.Println(portdriver.Validate(netdriver.Pasta{}, portdriver.Implicit{}))
	// Output:
	// netdriver.incompatible-drivers: implicit: port driver "implicit" does not work with network "slirp4netns" (fix: with network "slirp4netns" use port driver builtin, slirp4netns or none; port driver "implicit" needs network pasta)
	// <nil>
}

// The builtin driver's flags depend on the RootlessKit version: before 3.0
// there is no source-IP option to turn off.
func ExampleBuiltin_Flags() {
	d := portdriver.Builtin{DisableSourceIPTransparent: true}
	for _, s := range []string{"rootlesskit version 1.1.0", "rootlesskit version 3.3.0"} {
		v, _ := netdriver.ParseVersion(s)
		f, err := d.Flags(v, netdriver.Slirp4netns{})
		fmt.Println(v, f, err)
	}
	_, err := portdriver.Pesto{}.Flags(netdriver.Version{Major: 3}, netdriver.Pasta{})
	fmt.Println(err)
	// Output:
	// 1.1.0 [--port-driver=builtin] <nil>
	// 3.3.0 [--port-driver=builtin --source-ip-transparent=false] <nil>
	// netdriver.rootlesskit-too-old: pesto: --port-driver=pesto needs RootlessKit 3.1.0 or later; have 3.0.0 (fix: upgrade RootlessKit to 3.1.0 or later, or use the embedded engine (RootlessKit 3.3.0))
}

func ExampleParseSpec() {
	for _, s := range []string{"8080:80", "127.0.0.1:53:53/udp", "[::1]:8443:443/tcp6"} {
		sp, err := portdriver.ParseSpec(s)
		fmt.Printf("%v %+v %v\n", sp, sp.RootlessKit(), err)
	}
	// Output:
	// 8080:80/tcp {Proto:tcp ParentIP: ParentPort:8080 ChildPort:80 ChildIP:} <nil>
	// 127.0.0.1:53:53/udp {Proto:udp ParentIP:127.0.0.1 ParentPort:53 ChildPort:53 ChildIP:} <nil>
	// [::1]:8443:443/tcp6 {Proto:tcp6 ParentIP:::1 ParentPort:8443 ChildPort:443 ChildIP:} <nil>
}

// Publishing a port on a running RootlessKit (needs a daemon, so it only
// compiles).
func ExampleManager() {
	ctx := context.Background()
	m, err := portdriver.NewManager("/run/user/1000/dockerd-rootless/api.sock",
		portdriver.WithBinder("/usr/bin/rootlesskit")) // the process that binds host ports
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	spec, _ := portdriver.ParseSpec("0.0.0.0:80:8080/tcp")
	st, err := m.Add(ctx, spec)
	if err != nil {
		// e.g. privileged-port: ... net.ipv4.ip_unprivileged_port_start is 1024 ...
		log.Fatalf("%v\nfix: %s", err, diag.Remedy(err))
	}
	fmt.Println("published as", st.ID)
}

// PublishFlags gives --publish flags for an external rootlesskit.
func ExamplePublishFlags() {
	spec, _ := portdriver.ParseSpec("8080:80")
	f, _ := portdriver.PublishFlags(portdriver.Builtin{}, spec)
	fmt.Println(strings.Join(f, " "))
	_, err := portdriver.PublishFlags(portdriver.Implicit{}, spec)
	fmt.Println(diag.List(err)[0].ID)
	// Output:
	// --publish=0.0.0.0:8080:80/tcp
	// netdriver.no-port-api
}
