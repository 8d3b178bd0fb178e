package rootless

import (
	"encoding/json"
	"strings"

	"github.com/rootlessd/rootlessd/idmap"
)

// symNftables proves dockerd's nftables firewall backend (Docker 29, moby#49614), for builds
// whose version says nothing.
var symNftables = []byte("firewall-backend is set to nftables")

// firewallArgs picks dockerd's nftables firewall backend when dockerd has it and nft is
// installed, unless the caller's dockerd arguments or daemon.json choose a backend or turn the
// firewall off. The rules are the same (NAT, published ports, isolation between networks, for
// IPv4 and, where dockerd has it on, IPv6); the iptables backend programs them with one iptables
// or ip6tables process per rule, over a hundred at every start (each behind nsenter with a
// detached network namespace), where nft loads each table at once. What the nftables backend
// lacks is the DOCKER-USER chain, which rootless users reach only by entering RootlessKit's
// namespace; --firewall-backend=iptables (WithDockerdArgs or daemon.json) keeps it.
//
// With the userland proxy off (WithSourceIP with the builtin port driver, or the caller's
// choice) the iptables backend stays: moby v2.0.0-beta.24's nftables backend then adds a
// hairpin rule per published port and refuses the second publish of one container port
// ("adding rule ... MASQ TO OWN PORT ... rule exists"), so `docker run -p 127.0.0.1:A:80 -p
// B:80` fails where the iptables backend serves both (TestSourceIPClaims).
//
// proxyOff says whether the drivers turn the userland proxy off (selection.proxyOff), which
// only WithSourceIP does: without it the decision is made as soon as dockerd is known
// (earlyFirewall), so that the namespace probe tries the backend dockerd will use.
func (r *resolver) firewallArgs(proxyOff bool) []string {
	if !r.p.Dockerd.Nftables || proxyOff {
		return nil
	}
	for _, a := range r.c.dockerdArgs {
		if strings.HasPrefix(a, "--firewall-backend") || strings.HasPrefix(a, "--iptables=false") || a == "--bridge=none" ||
			a == "--userland-proxy=false" {
			return nil
		}
	}
	if _, err := r.h.net.LookPath("nft"); err != nil {
		return nil
	}
	cfg, _ := r.daemonConfig()
	if _, ok := cfg["firewall-backend"]; ok {
		return nil
	}
	var iptables bool
	if raw, ok := cfg["iptables"]; ok && json.Unmarshal(raw, &iptables) == nil && !iptables {
		return nil
	}
	var proxy bool
	if raw, ok := cfg["userland-proxy"]; ok && json.Unmarshal(raw, &proxy) == nil && !proxy {
		return nil
	}
	var bridge string
	if raw, ok := cfg["bridge"]; ok && json.Unmarshal(raw, &bridge) == nil && bridge == "none" {
		return nil
	}
	return []string{"--firewall-backend=nftables"}
}

// subidSource is RootlessKit's --subid-source for the plan. With the default source (auto:
// getsubids, then the files), when /etc/nsswitch.conf sends the subid database to the files,
// getsubids only reads /etc/subuid and /etc/subgid: RootlessKit is told to read them itself
// ("static"), the ranges lookupSubids predicted, which spares its parent four getsubids
// process starts, one after the other, on the way to the namespaces (the script's rootlesskit
// runs them). Any other source or database is passed on as it is.
func (r *resolver) subidSource() string {
	src := r.c.subidSource
	if a, ok := src.(idmap.Auto); ok && a == (idmap.Auto{}) && nssFiles(r.h) {
		return idmap.Files{}.RootlessKit()
	}
	return src.RootlessKit()
}

// earlyFirewall makes the firewall decision once dockerd is known, when the drivers cannot
// change it (no WithSourceIP: only choosePort turns the proxy off, and only for the source IP),
// and returns the backend the namespace probe must try: "nftables", "iptables", or "" for the
// caller's choice (dockerd unknown, or the decision waits for the drivers).
func (r *resolver) earlyFirewall(dockerdKnown bool) string {
	if !dockerdKnown || r.c.wants().sourceIP {
		return ""
	}
	r.firewall, r.firewallDecided = r.firewallArgs(false), true
	if len(r.firewall) > 0 {
		return "nftables"
	}
	return ""
}
