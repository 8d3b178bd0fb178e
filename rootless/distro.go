package rootless

import (
	"bufio"
	"slices"
	"strconv"
	"strings"
)

// Family is a group of Linux distributions that share a package manager and package names, so
// that one fix command suits all of them.
type Family string

// The families whose fixes Check writes with their own commands. A host of another family gets
// the commands of all of them.
const (
	FamilyDebian Family = "debian" // Debian, Ubuntu and their derivatives: apt-get
	FamilyFedora Family = "fedora" // Fedora, RHEL, CentOS Stream, Rocky, Alma: dnf
	FamilyArch   Family = "arch"   // Arch Linux, Manjaro: pacman
	FamilySUSE   Family = "suse"   // openSUSE, SLES: zypper
	FamilyOther  Family = ""       // unknown, or /etc/os-release is missing
)

// Distro is the Linux distribution of the host, from /etc/os-release.
type Distro struct {
	ID      string `json:"id,omitempty"`      // ID=, e.g. "ubuntu"
	Version string `json:"version,omitempty"` // VERSION_ID=, e.g. "24.04"
	Name    string `json:"name,omitempty"`    // PRETTY_NAME=, e.g. "Ubuntu 24.04.1 LTS"
	Family  Family `json:"family,omitempty"`
}

func (d Distro) String() string {
	if d.Name != "" {
		return d.Name
	}
	if d.ID != "" {
		return strings.TrimSpace(d.ID + " " + d.Version)
	}
	return "unknown distribution"
}

// parseOSRelease reads an os-release file (os-release(5)): KEY=value lines, values optionally
// quoted with shell quoting.
func parseOSRelease(s string) Distro {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
			v = u
		} else {
			v = strings.Trim(v, `"'`)
		}
		kv[k] = v
	}
	d := Distro{ID: kv["ID"], Version: kv["VERSION_ID"], Name: kv["PRETTY_NAME"]}
	ids := append([]string{d.ID}, strings.Fields(kv["ID_LIKE"])...)
	for _, id := range ids {
		switch {
		case id == "debian" || id == "ubuntu":
			d.Family = FamilyDebian
		case id == "fedora" || id == "rhel" || id == "centos" || id == "rocky" || id == "almalinux":
			d.Family = FamilyFedora
		case id == "arch" || id == "archlinux" || id == "manjaro":
			d.Family = FamilyArch
		case id == "suse" || id == "sles" || id == "sled" || strings.HasPrefix(id, "opensuse"):
			d.Family = FamilySUSE
		}
		if d.Family != FamilyOther {
			break
		}
	}
	return d
}

// distroOf reads the host's /etc/os-release (then /usr/lib/os-release).
func distroOf(h *host) Distro {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if b, err := h.net.ReadFile(p); err == nil {
			return parseOSRelease(string(b))
		}
	}
	return Distro{}
}

// A pkg names one package in each family; "" where the family needs none (or has none).
type pkg struct{ debian, fedora, arch, suse string }

// The packages that fixes install.
var (
	pkgUidmap       = pkg{"uidmap", "shadow-utils", "shadow", "shadow"}
	pkgIptables     = pkg{"iptables", "iptables-nft", "iptables", "iptables"}
	pkgNftables     = pkg{"nftables", "nftables", "nftables", "nftables"}
	pkgUtilLinux    = pkg{"util-linux", "util-linux", "util-linux", "util-linux"}
	pkgFuseOverlay  = pkg{"fuse-overlayfs", "fuse-overlayfs", "fuse-overlayfs", "fuse-overlayfs"}
	pkgDbusSession  = pkg{"dbus-user-session", "dbus-daemon", "dbus", "dbus-1"}
	pkgRootlessKit  = pkg{"rootlesskit", "rootlesskit", "rootlesskit", "rootlesskit"}
	pkgDockerd      = pkg{"docker.io", "moby-engine", "docker", "docker"}
	pkgContainerd   = pkg{"containerd", "containerd", "containerd", "containerd"}
	pkgRunc         = pkg{"runc", "runc", "runc", "runc"}
	pkgDockerProxy  = pkg{"rootlesskit", "rootlesskit", "rootlesskit", "rootlesskit"}
	pkgApparmorUtil = pkg{"apparmor", "", "apparmor", "apparmor-parser"}
)

func (p pkg) of(f Family) string {
	switch f {
	case FamilyDebian:
		return p.debian
	case FamilyFedora:
		return p.fedora
	case FamilyArch:
		return p.arch
	case FamilySUSE:
		return p.suse
	}
	return ""
}

var families = []Family{FamilyDebian, FamilyFedora, FamilyArch, FamilySUSE}

func familyLabel(f Family) string {
	switch f {
	case FamilyDebian:
		return "Debian/Ubuntu"
	case FamilyFedora:
		return "Fedora/RHEL"
	case FamilyArch:
		return "Arch"
	case FamilySUSE:
		return "openSUSE/SLES"
	}
	return ""
}

// installCommand is the command that installs pkgs on family f; "" if f has none of them.
func installCommand(f Family, pkgs ...pkg) string {
	var names []string
	for _, p := range pkgs {
		if n := p.of(f); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	list := strings.Join(names, " ")
	switch f {
	case FamilyDebian:
		return "sudo apt-get install -y " + list
	case FamilyFedora:
		return "sudo dnf install -y " + list
	case FamilyArch:
		return "sudo pacman -S --needed " + list
	case FamilySUSE:
		return "sudo zypper install -y " + list
	}
	return ""
}

// install is the command that installs pkgs on d: its family's, or, on an unknown
// distribution, each family's labelled ("Debian/Ubuntu: sudo apt-get ...; Fedora/RHEL: ...").
func (d Distro) install(pkgs ...pkg) string {
	if d.Family != FamilyOther {
		return installCommand(d.Family, pkgs...)
	}
	var alts []string
	for _, f := range families {
		if c := installCommand(f, pkgs...); c != "" {
			alts = append(alts, familyLabel(f)+": "+c)
		}
	}
	return strings.Join(alts, "; ")
}

// Kernel modules that iptables needs inside RootlessKit's namespace, which an unprivileged
// user cannot load. openSUSE and SLES do not load them on demand (Docker's documentation:
// "sudo modprobe ip_tables iptable_mangle iptable_nat iptable_filter is required").
const (
	legacyModules = "ip_tables iptable_mangle iptable_nat iptable_filter"
	nftModules    = "nf_tables nft_chain_nat nft_compat"
)

// modprobe is the command that loads the modules iptables (nft, when nft is true) needs, and
// keeps them loaded at boot.
func (d Distro) modprobe(nft bool) string {
	mods := legacyModules
	if nft {
		mods = nftModules
	}
	return "sudo modprobe " + mods + " && printf '%s\\n' " + mods + " | sudo tee /etc/modules-load.d/rootless-docker.conf"
}
