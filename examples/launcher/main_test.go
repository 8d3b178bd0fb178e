package main

import (
	"strings"
	"testing"
)

// FuzzPathArgs: the launcher turns the dockerd flags that rootless owns into options and
// passes every other argument on; it never panics, and an error means a flag lacks
// its value.
func FuzzPathArgs(f *testing.F) {
	for _, s := range []string{"--data-root /x --debug", "-H unix:///s.sock -H tcp://0.0.0.0:2376 --tlsverify", "--pidfile", "-p=/x.pid --config-file=/c.json --exec-root /e", "--iptables=false"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Fields(s)
		opts, rest, err := pathArgs(args)
		if err != nil {
			if !strings.Contains(err.Error(), "needs a value") {
				t.Fatalf("pathArgs(%q): %v", args, err)
			}
			return
		}
		if len(rest) > len(args) || len(opts) > len(args) {
			t.Fatalf("pathArgs(%q) = %d options, rest %q", args, len(opts), rest)
		}
		// What is passed on comes from the arguments (a "-H=tcp://..." is passed as two).
		for _, r := range rest {
			if !strings.Contains(s, r) {
				t.Fatalf("rest %q: %q is not from %q", rest, r, args)
			}
		}
	})
}
