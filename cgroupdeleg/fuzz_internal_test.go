package cgroupdeleg

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// FuzzOptionLines checks that the line finder walks unit files exactly as
// go-systemd's lexer does: one line per option, and the option's name on it.
func FuzzOptionLines(f *testing.F) {
	f.Add("[Service]\nDelegate=pids memory cpu\n")
	f.Add("junk # c \\\n[A]\n\n  X = 1 \\\n 2\n#c\\\n;c\n[B]\nY=\\\n\nZ=3")
	f.Add("[S]\r\nA=1\r\n\u0085B=2\n[T\n]\nC=3")
	f.Fuzz(func(t *testing.T, in string) {
		opts, err := unit.DeserializeOptions(strings.NewReader(in))
		if err != nil {
			return
		}
		lines := optionLines([]byte(in))
		if len(lines) != len(opts) {
			t.Fatalf("%d lines for %d options", len(lines), len(opts))
		}
		text := strings.Split(in, "\n")
		for i, o := range opts {
			// go-systemd reads runes: each invalid byte becomes U+FFFD, as in []rune.
			if l := lines[i]; l < 1 || l > len(text) || !strings.Contains(string([]rune(text[l-1])), o.Name) {
				t.Fatalf("option %d %q placed on line %d", i, o.Name, l)
			}
		}
	})
}

func FuzzMountRoot(f *testing.F) {
	f.Add("31 22 0:27 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup")
	f.Add("30 22 0:26 /ctr\\040x /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup/unified")
	f.Add("1 2 3 / /x - -\n1 2 3 \\1 /x a - cgroup2\n", "/x")
	f.Fuzz(func(t *testing.T, in, mountpoint string) {
		root, ok := mountRoot(strings.NewReader(in), mountpoint)
		if !ok && root != "" {
			t.Fatalf("root %q without a match", root)
		}
		if ok && !strings.Contains(in, "cgroup2") {
			t.Fatal("matched a mount that is not cgroup2")
		}
		if !strings.Contains(in, `\`) && ok && !strings.Contains(in, root) {
			t.Fatalf("root %q is not in the input", root)
		}
	})
}

func FuzzBusPath(f *testing.F) {
	f.Add("unix:path=/run/user/1000/bus", "/run/user/1000/bus")
	f.Add("unix:abstract=/tmp/dbus-x,guid=1;unix:path=%2frun%2Fbus", "/a b;c,d=%")
	f.Add("tcp:host=x;unix:path=", "/")
	f.Fuzz(func(t *testing.T, addr, p string) {
		if got, _ := busPath(addr); got != "" && !strings.HasPrefix(got, "/") {
			t.Fatalf("busPath(%q) = %q, not absolute", addr, got)
		}
		if !strings.HasPrefix(p, "/") {
			return
		}
		var esc strings.Builder
		for i := 0; i < len(p); i++ {
			fmt.Fprintf(&esc, "%%%02x", p[i])
		}
		if got, _ := busPath("tcp:host=h;unix:path=" + esc.String() + ",guid=1"); got != p {
			t.Fatalf("busPath round trip: %q -> %q", p, got)
		}
	})
}

func FuzzPasswdName(f *testing.F) {
	f.Add("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n", 1000)
	f.Add("bad\n:x:7:\n#bob:x:7:7\nbob:x:7", 7)
	f.Fuzz(func(t *testing.T, in string, uid int) {
		name, ok := passwdName(bytes.NewReader([]byte(in)), uid)
		if ok && (name == "" || strings.ContainsAny(name, ":\n")) {
			t.Fatalf("name %q", name)
		}
		if !ok && name != "" {
			t.Fatalf("name %q without ok", name)
		}
	})
}
