package idmap

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func toRK(rs []Range) []rkSubIDRange {
	out := make([]rkSubIDRange, len(rs))
	for i, r := range rs {
		out[i] = rkSubIDRange{int(r.Start), int(r.Count)}
	}
	return out
}

// TestNewMapMatchesRootlessKit compares NewMap with RootlessKit's own code.
func TestNewMapMatchesRootlessKit(t *testing.T) {
	tests := []struct {
		self uint32
		rs   []Range
	}{
		{1000, []Range{{100000, 65536}}},
		{1000, nil},
		{1000, []Range{{200000, 65536}, {100000, 65536}}},              // file order kept
		{1000, []Range{{100000, 65536}, {100000, 65536}}},              // repeats kept
		{1000, []Range{{0, 100000}}},                                   // self split
		{1000, []Range{{1000, 1}, {1000, 65536}, {935000, 66001}}},     // self at the edges
		{222586300, []Range{{524288, 1073741824}}},                     // moby#49810
		{1000, []Range{{100000, 0}, {4294967295, 1}}},                  // passed on as is
		{0, []Range{{0, 1}, {0, 2}}},                                   // root
		{4294967294, []Range{{4294900000, 67295}, {4294967294, 1}}},    // near the top
		{7, []Range{{5, 5}, {7, 1}, {1, 7}, {6, 2}, {8, 3}, {100, 0}}}, // many cuts
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		var rs []Range
		for range rnd.IntN(6) {
			rs = append(rs, Range{uint32(rnd.IntN(3000)), uint32(rnd.IntN(1500))})
		}
		tests = append(tests, struct {
			self uint32
			rs   []Range
		}{uint32(rnd.IntN(3000)), rs})
	}
	for _, tt := range tests {
		m, err := NewMap(tt.self, tt.rs)
		if err != nil {
			t.Fatalf("NewMap(%d, %v): %v", tt.self, tt.rs, err)
		}
		if got, want := m.Args(), rkMapArgs(int(tt.self), toRK(tt.rs)); !slices.Equal(got, want) {
			t.Errorf("NewMap(%d, %v).Args() = %q, RootlessKit computes %q", tt.self, tt.rs, got, want)
		}
	}
}

func TestNewMapTooBig(t *testing.T) {
	if _, err := NewMap(1000, []Range{{0, MaxID}, {0, 5}}); err == nil || !strings.HasPrefix(err.Error(), "idmap: ") {
		t.Errorf("err = %v, want an idmap error", err)
	}
}

// TestProcMapMatchesNewMap reads a live-format uid_map and compares it
// with the map built from the same ranges, as Launch can after the fact.
func TestProcMapMatchesNewMap(t *testing.T) {
	ns, err := ReadNamespace(os.DirFS("testdata"), 4242)
	if err != nil {
		t.Fatal(err)
	}
	want, err := NewMap(1000, []Range{{100000, 65536}, {300000, 65536}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ns.UID, want) || !ns.InUserNS {
		t.Errorf("uid_map = %v (in userns %v), want %v", ns.UID, ns.InUserNS, want)
	}
	if gid, _ := NewMap(1000, []Range{{100000, 65536}}); !slices.Equal(ns.GID, gid) {
		t.Errorf("gid_map = %v, want %v", ns.GID, gid)
	}
	back, err := ParseMap("round trip", strings.NewReader(want.String()))
	if err != nil || !slices.Equal(back, want) {
		t.Errorf("ParseMap(String()) = %v, %v", back, err)
	}
}

func TestParseMap(t *testing.T) {
	tests := []struct {
		name, in string
		want     Map
		err      string
	}{
		{"initial", "         0          0 4294967295\n", Map{{0, 0, MaxID}}, ""},
		{"empty", "", nil, ""},
		{"tabs and no newline", "0\t1000\t1", Map{{0, 1000, 1}}, ""},
		{"two fields", "0 1000\n", nil, "uid_map:1: 2 fields"},
		{"not a number", "0 1000 1\n1 x 5\n", nil, `uid_map:2: "x" is not an id`},
		{"negative", "0 -1 1\n", nil, `uid_map:1: "-1" is not an id`},
		{"too big", "0 1 4294967296\n", nil, `uid_map:1: "4294967296" is not an id`},
		{"zero count", "0 1 0\n", nil, "uid_map:1: extent 0 1 0 is out of bounds"},
		{"wraps", "4294967295 0 1\n", nil, "uid_map:1: extent 4294967295 0 1 is out of bounds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMap("uid_map", strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "idmap: ") {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(m, tt.want) {
				t.Fatalf("ParseMap = %v, %v, want %v", m, err, tt.want)
			}
		})
	}
}

func TestMapTranslate(t *testing.T) {
	m := Map{{0, 1000, 1}, {1, 100000, 65536}}
	for _, tt := range []struct {
		container, host uint32
		ok              bool
	}{
		{0, 1000, true}, {1, 100000, true}, {65536, 165535, true}, {999, 100998, true},
	} {
		if h, ok := m.ToHost(tt.container); h != tt.host || ok != tt.ok {
			t.Errorf("ToHost(%d) = %d, %v, want %d", tt.container, h, ok, tt.host)
		}
		if c, ok := m.ToContainer(tt.host); c != tt.container || ok != tt.ok {
			t.Errorf("ToContainer(%d) = %d, %v, want %d", tt.host, c, ok, tt.container)
		}
	}
	for _, id := range []uint32{65537, MaxID} {
		if _, ok := m.ToHost(id); ok {
			t.Errorf("ToHost(%d) mapped", id)
		}
	}
	for _, id := range []uint32{0, 999, 1001, 99999, 165536} {
		if _, ok := m.ToContainer(id); ok {
			t.Errorf("ToContainer(%d) mapped", id)
		}
	}
	if !(Map{{0, 0, MaxID}}).Initial() || m.Initial() {
		t.Error("Initial wrong")
	}
}

func TestReadNamespace(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/self/uid_map": {Data: []byte("         0          0 4294967295\n")},
		"proc/self/gid_map": {Data: []byte("         0          0 4294967295\n")},
		"proc/7/uid_map":    {Data: []byte("")},
		"proc/7/gid_map":    {Data: []byte("")},
		"proc/8/uid_map":    {Data: []byte("0 1000\n")},
		"proc/8/gid_map":    {Data: []byte("")},
	}
	ns, err := ReadNamespace(fsys, 0)
	if err != nil || ns.InUserNS || !ns.UID.Initial() || !ns.GID.Initial() {
		t.Errorf("self: %+v, %v", ns, err)
	}
	ns, err = ReadNamespace(fsys, 7)
	if err != nil || !ns.InUserNS || len(ns.UID) != 0 {
		t.Errorf("unwritten map: %+v, %v", ns, err)
	}
	if _, err := ReadNamespace(fsys, 8); err == nil || !strings.Contains(err.Error(), "/proc/8/uid_map:1:") {
		t.Errorf("bad map: err = %v", err)
	}
	if _, err := ReadNamespace(fsys, 9); err == nil {
		t.Error("missing process: no error")
	}
	if ns, err := ReadNamespace(fstest.MapFS{}, 0); err != nil || ns.InUserNS {
		t.Errorf("no user namespaces in the kernel: %+v, %v", ns, err)
	}
}

func TestCurrentNamespace(t *testing.T) {
	ns, err := CurrentNamespace()
	if err != nil {
		t.Fatal(err)
	}
	// In the initial namespace, uid_map is always the identity.
	if !ns.InUserNS && !ns.UID.Initial() {
		t.Errorf("InUserNS = %v with uid_map %v", ns.InUserNS, ns.UID)
	}
}
