package portdriver

import (
	"fmt"

	"github.com/rootlessd/rootlessd/internal/tagged"

	"github.com/rootlessd/rootlessd/netdriver"
)

// Encode returns p as JSON tagged with its name, for passing the choice to
// the embedded engine's helper and child processes:
//
//	{"driver":"builtin","config":{"disableSourceIPTransparent":true}}
//
// Only this package's drivers (values or pointers) can be encoded; others
// give an error matching [netdriver.IDNotBuiltin].
func Encode(p Driver) ([]byte, error) {
	var name string
	var cfg any
	switch v := p.(type) {
	case Builtin:
		name, cfg = NameBuiltin, v
	case *Builtin:
		name, cfg = NameBuiltin, tagged.Deref(v)
	case Pesto:
		name, cfg = NamePesto, v
	case *Pesto:
		name, cfg = NamePesto, tagged.Deref(v)
	case Slirp4netns, *Slirp4netns:
		name = NameSlirp4netns
	case Implicit, *Implicit:
		name = NameImplicit
	case GVisorTapVsock, *GVisorTapVsock:
		name = NameGVisorTapVsock
	case None, *None:
		name = NameNone
	default:
		t := "<nil>"
		if p != nil {
			t = fmt.Sprintf("%T", p)
		}
		return nil, netdriver.Problem(netdriver.IDNotBuiltin, "", "cannot encode port driver "+t, "use a driver of package portdriver, or the external engine (Flags) for third-party drivers")
	}
	b, err := tagged.Marshal(name, cfg)
	if err != nil {
		return nil, fmt.Errorf("portdriver: encode %s: %w", name, err)
	}
	return b, nil
}

// Decode parses what [Encode] produced and returns the driver as a value.
// Unknown drivers and unknown fields are errors.
func Decode(b []byte) (Driver, error) {
	name, raw, err := tagged.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("portdriver: decode: %w", err)
	}
	var d Driver
	switch name {
	case NameBuiltin:
		d, err = tagged.Config[Builtin](raw)
	case NamePesto:
		d, err = tagged.Config[Pesto](raw)
	case NameSlirp4netns:
		d, err = tagged.Config[Slirp4netns](raw)
	case NameImplicit:
		d, err = tagged.Config[Implicit](raw)
	case NameGVisorTapVsock:
		d, err = tagged.Config[GVisorTapVsock](raw)
	case NameNone:
		d, err = tagged.Config[None](raw)
	default:
		_, err = Named(name)
		return nil, fmt.Errorf("portdriver: decode: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("portdriver: decode %s: %w", name, err)
	}
	return d, nil
}
