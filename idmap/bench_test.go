package idmap

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// bigSubid returns a subordinate id file of n users, 40000 ids each, every
// tenth keyed by uid as sites that mix both forms do.
func bigSubid(n int) string {
	var b strings.Builder
	b.Grow(n * 28)
	for i := range n {
		if i%10 == 0 {
			fmt.Fprintf(&b, "%d:%d:40000\n", 10000+i, 100000+i*40000)
		} else {
			fmt.Fprintf(&b, "user%d:%d:40000\n", i, 100000+i*40000)
		}
	}
	return b.String()
}

// BenchmarkParse is one full parse of a 100,000-user /etc/subuid plus the
// lookup of the last user in it.
func BenchmarkParse(b *testing.B) {
	data := bigSubid(100000)
	u := User{Name: "user99999", UID: 10000 + 99999}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse("/etc/subuid", strings.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if rs := f.Ranges(u); len(rs) != 1 {
			b.Fatalf("ranges = %v", rs)
		}
	}
}

// BenchmarkLookup is Lookup with Files: nsswitch.conf, a 100,000-user
// /etc/subuid and /etc/subgid, shadow's and RootlessKit's readings.
func BenchmarkLookup(b *testing.B) {
	data := []byte(bigSubid(100000))
	fsys := fstest.MapFS{
		"etc/subuid":        {Data: data},
		"etc/subgid":        {Data: data},
		"etc/nsswitch.conf": {Data: []byte("passwd: files\n")},
	}
	u := User{Name: "user99999", UID: 10000 + 99999}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Lookup(context.Background(), Files{FS: fsys}, u); err != nil {
			b.Fatal(err)
		}
	}
}
