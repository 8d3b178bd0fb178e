package netdriver

import (
	"fmt"

	"github.com/rootlessd/rootlessd/internal/tagged"
)

// Encode returns d as JSON tagged with its name, for passing a driver
// choice from the launching process to the embedded engine's helper and
// child processes:
//
//	{"driver":"pasta","config":{"mtu":1500}}
//
// Only the drivers of this package (values or pointers) can be encoded;
// others give an error matching [IDNotBuiltin]. Third-party drivers work
// with the external engine (Flags) but not across processes.
func Encode(d Driver) ([]byte, error) {
	var name string
	var cfg any
	switch v := d.(type) {
	case Slirp4netns:
		name, cfg = NameSlirp4netns, v
	case *Slirp4netns:
		name, cfg = NameSlirp4netns, tagged.Deref(v)
	case Pasta:
		name, cfg = NamePasta, v
	case *Pasta:
		name, cfg = NamePasta, tagged.Deref(v)
	case VPNKit:
		name, cfg = NameVPNKit, v
	case *VPNKit:
		name, cfg = NameVPNKit, tagged.Deref(v)
	case LXCUserNIC:
		name, cfg = NameLXCUserNIC, v
	case *LXCUserNIC:
		name, cfg = NameLXCUserNIC, tagged.Deref(v)
	case GVisorTapVsock:
		name, cfg = NameGVisorTapVsock, v
	case *GVisorTapVsock:
		name, cfg = NameGVisorTapVsock, tagged.Deref(v)
	case None, *None:
		name = NameNone
	case HostNetwork, *HostNetwork:
		name = NameHost
	default:
		t := "<nil>"
		if d != nil {
			t = fmt.Sprintf("%T", d)
		}
		return nil, Problem(IDNotBuiltin, "", "cannot encode network driver "+t, "use a driver of package netdriver, or the external engine (Flags) for third-party drivers")
	}
	b, err := tagged.Marshal(name, cfg)
	if err != nil {
		return nil, fmt.Errorf("netdriver: encode %s: %w", name, err)
	}
	return b, nil
}

// Decode parses what [Encode] produced and returns the driver as a value
// (not a pointer). Unknown drivers and unknown fields are errors.
func Decode(b []byte) (Driver, error) {
	name, raw, err := tagged.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("netdriver: decode: %w", err)
	}
	var d Driver
	switch name {
	case NameSlirp4netns:
		d, err = tagged.Config[Slirp4netns](raw)
	case NamePasta:
		d, err = tagged.Config[Pasta](raw)
	case NameVPNKit:
		d, err = tagged.Config[VPNKit](raw)
	case NameLXCUserNIC:
		d, err = tagged.Config[LXCUserNIC](raw)
	case NameGVisorTapVsock:
		d, err = tagged.Config[GVisorTapVsock](raw)
	case NameNone:
		d, err = tagged.Config[None](raw)
	case NameHost:
		d, err = tagged.Config[HostNetwork](raw)
	default:
		_, err = Named(name)
		return nil, fmt.Errorf("netdriver: decode: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("netdriver: decode %s: %w", name, err)
	}
	return d, nil
}
