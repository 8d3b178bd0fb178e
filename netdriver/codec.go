package netdriver

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// envelope is the wire form: {"driver":"slirp4netns","config":{...}}.
type envelope struct {
	Driver string          `json:"driver"`
	Config json.RawMessage `json:"config,omitempty"`
}

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
		name, cfg = NameSlirp4netns, derefOrZero(v)
	case Pasta:
		name, cfg = NamePasta, v
	case *Pasta:
		name, cfg = NamePasta, derefOrZero(v)
	case VPNKit:
		name, cfg = NameVPNKit, v
	case *VPNKit:
		name, cfg = NameVPNKit, derefOrZero(v)
	case LXCUserNIC:
		name, cfg = NameLXCUserNIC, v
	case *LXCUserNIC:
		name, cfg = NameLXCUserNIC, derefOrZero(v)
	case GVisorTapVsock:
		name, cfg = NameGVisorTapVsock, v
	case *GVisorTapVsock:
		name, cfg = NameGVisorTapVsock, derefOrZero(v)
	case None, *None:
		name = NameNone
	case HostNetwork, *HostNetwork:
		name = NameHost
	default:
		t := "<nil>"
		if d != nil {
			t = fmt.Sprintf("%T", d)
		}
		return nil, &Error{ID: IDNotBuiltin, Detail: "cannot encode network driver " + t,
			Fix: "use a driver of package netdriver, or the external engine (Flags) for third-party drivers"}
	}
	env := envelope{Driver: name}
	if cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("netdriver: encode %s: %w", name, err)
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

// Decode parses what [Encode] produced and returns the driver as a value
// (not a pointer). Unknown drivers and unknown fields are errors.
func Decode(b []byte) (Driver, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("netdriver: decode: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("netdriver: decode: trailing data")
	}
	var d Driver
	var err error
	switch env.Driver {
	case NameSlirp4netns:
		d, err = decodeConfig[Slirp4netns](env.Config)
	case NamePasta:
		d, err = decodeConfig[Pasta](env.Config)
	case NameVPNKit:
		d, err = decodeConfig[VPNKit](env.Config)
	case NameLXCUserNIC:
		d, err = decodeConfig[LXCUserNIC](env.Config)
	case NameGVisorTapVsock:
		d, err = decodeConfig[GVisorTapVsock](env.Config)
	case NameNone:
		d, err = decodeConfig[None](env.Config)
	case NameHost:
		d, err = decodeConfig[HostNetwork](env.Config)
	default:
		_, err = Named(env.Driver)
		return nil, fmt.Errorf("netdriver: decode: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("netdriver: decode %s: %w", env.Driver, err)
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
	if err := dec.Decode(&v); err != nil {
		return v, err
	}
	return v, nil
}
