package rootless

import (
	"slices"
	"testing"
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
