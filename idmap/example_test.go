package idmap_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/idmap"
)

// Parse reads a file as newuidmap does and explains every line it would
// silently skip or misread.
func ExampleParse() {
	const subuid = "alice:100000:65536\r\n" + // edited on Windows
		"alice:0200000:65536\n" + // the leading zero makes it octal
		"1000:300000:65536\n" // keyed by uid: matches alice too
	f, _ := idmap.Parse("/etc/subuid", strings.NewReader(subuid))
	for _, d := range f.Diags {
		fmt.Println(d)
	}
	fmt.Println(f.Ranges(idmap.User{Name: "alice", UID: 1000}))
	// Output:
	// /etc/subuid:1: trailing CR (DOS line ending): newuidmap ignores this line
	// /etc/subuid:2: leading zero: newuidmap reads start "0200000" as octal 65536
	// [65536:65536 300000:65536]
}

// Lookup tells "no ranges" apart from "could not tell", and its error
// carries the exact command that fixes the host.
func ExampleLookup() {
	fsys := fstest.MapFS{
		"etc/subuid": {Data: []byte("bob:100000:65536\n")},
		"etc/subgid": {Data: []byte("bob:100000:65536\n")},
	}
	alice := idmap.User{Name: "alice", UID: 1000, GID: 1000}
	_, err := idmap.Lookup(context.Background(), idmap.Files{FS: fsys}, alice)
	if errors.Is(err, idmap.ErrNoRanges) {
		for _, f := range diag.List(err) {
			fmt.Println(f.ID)
			fmt.Println(f.Detail)
			fmt.Println(f.Evidence)
			fmt.Println(f.Fix)
		}
	}
	// Output:
	// idmap.subids-missing
	// no subuid and subgid ranges for alice (uid 1000) in /etc/subuid or /etc/subgid
	// /etc/subuid; /etc/subgid
	// run: sudo usermod --add-subuids 165536-231071 --add-subgids 165536-231071 alice
}

// Validate finds what breaks newuidmap, the kernel or images later on.
func ExampleValidate() {
	fsys := fstest.MapFS{
		"etc/subuid": {Data: []byte("alice:100000:65536\n1000:100000:65536\n")},
		"etc/subgid": {Data: []byte("alice:100000:65534\n")},
	}
	alice := idmap.User{Name: "alice", UID: 1000, GID: 1000}
	s, _ := idmap.Lookup(context.Background(), idmap.Files{FS: fsys}, alice)
	for _, f := range idmap.Validate(s, idmap.Namespace{}) {
		fmt.Printf("%s %s [%s]\n  fix: %s\n", f.Severity, f.ID, f.Evidence, f.Fix)
	}
	// Output:
	// error idmap.subuid-duplicate [/etc/subuid:1: alice:100000:65536; /etc/subuid:2: 1000:100000:65536]
	//   fix: run: sudo sed -i '2d' /etc/subuid
	// warning idmap.subgid-too-small [/etc/subgid:1: alice:100000:65534]
	//   fix: run: sudo usermod --add-subgids 165536-231071 alice
}

// NewMap gives the maps RootlessKit hands to newuidmap and newgidmap.
func ExampleNewMap() {
	// An LDAP uid inside the range Lima assigns: RootlessKit cuts it out.
	m, _ := idmap.NewMap(600000, []idmap.Range{{Start: 524288, Count: 1073741824}})
	fmt.Println(strings.Join(m.Args(), " "))
	// Output:
	// 0 600000 1 1 524288 75712 75713 600001 1073666111
}

// ToContainer tells who owns a bind-mounted file inside the namespace.
func ExampleMap_ToContainer() {
	uidMap, _ := idmap.ParseMap("/proc/4242/uid_map", strings.NewReader(
		"         0       1000          1\n         1     100000      65536\n"))
	for _, host := range []uint32{1000, 100032, 5} {
		if id, ok := uidMap.ToContainer(host); ok {
			fmt.Printf("host uid %d is uid %d inside\n", host, id)
		} else {
			fmt.Printf("host uid %d is unmapped (shown as nobody)\n", host)
		}
	}
	// Output:
	// host uid 1000 is uid 0 inside
	// host uid 100032 is uid 33 inside
	// host uid 5 is unmapped (shown as nobody)
}

// FreeRange suggests ids nobody uses yet.
func ExampleFreeRange() {
	used := []idmap.Range{{Start: 100000, Count: 65536}, {Start: 165536, Count: 65536}, {Start: 300000, Count: 65536}}
	r, _ := idmap.FreeRange(65536, used)
	fmt.Println(r)
	// Output:
	// 231072:65536
}
