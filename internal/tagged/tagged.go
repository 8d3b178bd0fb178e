// Package tagged is the wire form of driver values that travel between the engine's processes:
// {"driver":"NAME","config":{...}}, decoded strictly so that a mismatch between the sending and
// the receiving build is an error rather than a silently different driver.
package tagged

import (
	"bytes"
	"encoding/json"
	"errors"
)

type envelope struct {
	Driver string          `json:"driver"`
	Config json.RawMessage `json:"config,omitempty"`
}

// Marshal returns the envelope for the driver called name with configuration cfg; a nil or
// empty configuration is left out.
func Marshal(name string, cfg any) ([]byte, error) {
	env := envelope{Driver: name}
	if cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, err
		}
		if string(b) != "{}" {
			env.Config = b
		}
	}
	return json.Marshal(env)
}

// Unmarshal splits an envelope into the driver's name and its raw configuration. Unknown
// fields and trailing data are errors.
func Unmarshal(b []byte) (name string, cfg json.RawMessage, err error) {
	var env envelope
	if err := strict(b, &env); err != nil {
		return "", nil, err
	}
	return env.Driver, env.Config, nil
}

// Config decodes a raw configuration into T, strictly; an empty one is T's zero value.
func Config[T any](raw json.RawMessage) (T, error) {
	var v T
	if len(raw) == 0 || string(raw) == "null" {
		return v, nil
	}
	return v, strict(raw, &v)
}

// Deref returns *p, or T's zero value for a nil p.
func Deref[T any](p *T) T {
	if p == nil {
		var z T
		return z
	}
	return *p
}

func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
