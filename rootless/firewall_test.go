package rootless

import (
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/idmap"
	"github.com/rootlessd/rootlessd/portdriver"
)

func TestFirewallBackend(t *testing.T) {
	const nft = "--firewall-backend=nftables"
	docker29 := debian12().dockerd("29.7.2")
	cases := []struct {
		name string
		f    fixture
		opts []Option
		want bool
	}{
		{name: "Docker 29 with nft", f: docker29, want: true},
		{name: "a build from source with the backend", f: debian12().file("/usr/bin/dockerd", "\x7fnot an ELF... "+string(symNftables)).
			out("/usr/bin/dockerd --version", "Docker version library-import, build module-proxy\n"), want: true},
		{name: "a build from source without it", f: debian12().dockerd("library-import")},
		{name: "Docker 20.10", f: debian12()},
		{name: "no nft", f: docker29.without("/usr/sbin/nft")},
		{name: "the caller chose iptables", f: docker29, opts: []Option{WithDockerdArgs("--firewall-backend=iptables")}},
		{name: "the caller turned iptables off", f: docker29, opts: []Option{WithDockerdArgs("--iptables=false")}},
		{name: "no bridge", f: docker29, opts: []Option{WithDockerdArgs("--bridge=none")}},
		{name: "daemon.json chose a backend", f: docker29.file("/home/alice/.config/docker/daemon.json", `{"firewall-backend": "iptables"}`)},
		{name: "daemon.json turned iptables off", f: docker29.file("/home/alice/.config/docker/daemon.json", `{"iptables": false}`)},
		{name: "daemon.json says nothing of it", f: docker29.file("/home/alice/.config/docker/daemon.json", `{"debug": true}`), want: true},
		{name: "the caller turned the userland proxy off", f: docker29, opts: []Option{WithDockerdArgs("--userland-proxy=false")}},
		{name: "daemon.json turned the userland proxy off", f: docker29.file("/home/alice/.config/docker/daemon.json", `{"userland-proxy": false}`)},
		{name: "source IP turns the userland proxy off", f: docker29, opts: []Option{WithSourceIP(true), WithPortDriver(portdriver.Builtin{})}},
		{name: "WithDaemonConfig chose a backend", f: docker29.file("/etc/rd.json", `{"firewall-backend": "iptables"}`),
			opts: []Option{WithDaemonConfig("/etc/rd.json")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err, _ := resolveOn(t, tc.f, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(p.DockerdArgs, nft); got != tc.want {
				t.Errorf("%s in dockerd's arguments: %v, want %v (%q)", nft, got, tc.want, p.DockerdArgs)
			}
		})
	}
}

// TestSubidSourceFlag: RootlessKit reads the subid files itself only when getsubids would read
// nothing else; another database, or a source the caller chose, is passed on as it is.
func TestSubidSourceFlag(t *testing.T) {
	cases := []struct {
		name string
		f    fixture
		opts []Option
		want string
	}{
		{name: "no subid line", f: debian12(), want: "--subid-source=static"},
		{name: "subid: files", f: debian12().file("/etc/nsswitch.conf", "passwd: files\nsubid: files\n"), want: "--subid-source=static"},
		{name: "subid: sss", f: debian12().file("/etc/nsswitch.conf", "passwd: files\nsubid: sss\n")},
		{name: "the caller chose getsubids", f: debian12(), opts: []Option{WithSubidSource(idmap.Getsubids{})}, want: "--subid-source=dynamic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _, _ := resolveOn(t, tc.f, tc.opts...)
			var got string
			for _, f := range p.RootlessKitFlags {
				if strings.HasPrefix(f, "--subid-source") {
					got = f
				}
			}
			if got != tc.want {
				t.Errorf("RootlessKit's flags have %q, want %q (%q)", got, tc.want, p.RootlessKitFlags)
			}
		})
	}
}
