package portdriver

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rootlessd/rootlessd/netdriver"
)

type envelope struct {
	Driver string          `json:"driver"`
	Config json.RawMessage `json:"config,omitempty"`
}

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
		name, cfg = NameBuiltin, derefOrZero(v)
	case Pesto:
		name, cfg = NamePesto, v
	case *Pesto:
		name, cfg = NamePesto, derefOrZero(v)
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
		return nil, &netdriver.Error{ID: netdriver.IDNotBuiltin, Detail: "cannot encode port driver " + t,
			Fix: "use a driver of package portdriver, or the external engine (Flags) for third-party drivers"}
	}
	env := envelope{Driver: name}
	if cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("portdriver: encode %s: %w", name, err)
		}
		if string(b) != "{}" {
			env.Config = b
		}
	}
	return json.Marshal(env)
}

func derefOrZero[T any](p *T) T {
	if p == nil {
		var z T
		return z
	}
	return *p
}

// Decode parses what [Encode] produced and returns the driver as a value.
// Unknown drivers and unknown fields are errors.
func Decode(b []byte) (Driver, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("portdriver: decode: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("portdriver: decode: trailing data")
	}
	var d Driver
	var err error
	switch env.Driver {
	case NameBuiltin:
		d, err = decodeConfig[Builtin](env.Config)
	case NamePesto:
		d, err = decodeConfig[Pesto](env.Config)
	case NameSlirp4netns:
		d, err = decodeConfig[Slirp4netns](env.Config)
	case NameImplicit:
		d, err = decodeConfig[Implicit](env.Config)
	case NameGVisorTapVsock:
		d, err = decodeConfig[GVisorTapVsock](env.Config)
	case NameNone:
		d, err = decodeConfig[None](env.Config)
	default:
		_, err = Named(env.Driver)
		return nil, fmt.Errorf("portdriver: decode: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("portdriver: decode %s: %w", env.Driver, err)
	}
	return d, nil
}

func decodeConfig[T any](raw json.RawMessage) (T, error) {
	var v T
	if len(raw) == 0 || string(raw) == "null" {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&v)
	return v, err
}
