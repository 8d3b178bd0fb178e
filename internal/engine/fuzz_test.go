package engine

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzSpecJSON: the helper, RootlessKit's child and the target decode the spec file with
// UnmarshalJSON; a file that decodes encodes back to one that decodes to the same Spec.
func FuzzSpecJSON(f *testing.F) {
	f.Add(`{"state_dir":"/s","net":{"driver":"slirp4netns","config":{"mtu":65520}},"port":{"driver":"builtin"},"pidns":true,"target":{"argv":["/usr/bin/dockerd"],"env":["A=b"],"probe_socket":"/s/p.sock"}}`)
	f.Add(`{"state_dir":"/s","publish":[{"parent":"127.0.0.1:8080","child_port":80,"proto":"tcp"}],"target":{"argv":[]}}`)
	f.Add(`{"net":{"driver":"pasta"},"unknown":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		var spec Spec
		if err := json.Unmarshal([]byte(s), &spec); err != nil {
			return
		}
		b, err := json.Marshal(&spec)
		if err != nil {
			return // a value that decodes but is not encodable (e.g. a driver config out of range) is refused, not mangled
		}
		var again Spec
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("%s does not decode again: %v", b, err)
		}
		// Equal but for empty lists, which the file form omits.
		if b2, err := json.Marshal(&again); err != nil || !bytes.Equal(b, b2) || !reflect.DeepEqual(spec.Net, again.Net) || !reflect.DeepEqual(spec.Port, again.Port) {
			t.Fatalf("round trip changed the spec:\n%s\n%s (%v)", b, b2, err)
		}
		_ = spec.Validate() // must not panic
	})
}
