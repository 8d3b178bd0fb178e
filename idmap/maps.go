package idmap

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/moby/sys/userns"
)

// Extent is one line of /proc/PID/uid_map (or gid_map), which is also one
// argument triple of newuidmap (or newgidmap): Count ids starting at
// Container inside the namespace are ids starting at Host outside it. In a
// nested namespace "host" means the parent namespace.
type Extent struct {
	Container, Host, Count uint32
}

// Map is a uid or gid map: a list of extents in the order they are written.
type Map []Extent

// NewMap returns the map RootlessKit v3.3.0 passes to newuidmap (with self
// the user's uid and rs its subordinate uid ranges) or to newgidmap (with
// the primary gid and the subordinate gid ranges): "0 self 1", then each
// range in the given order, packed from container id 1. self is cut out of
// any range that holds it, splitting that range in two, because newuidmap and
// the kernel refuse a map that names a host id twice. Like RootlessKit,
// NewMap neither sorts, merges nor drops ranges: it is the caller's (and
// [Validate]'s) business that they are valid.
//
// NewMap fails only when the ranges hold more ids than a namespace can, or
// when cutting self out would leave a range beyond the largest id.
func NewMap(self uint32, rs []Range) (Map, error) {
	for _, r := range rs {
		if self == MaxID && r.Contains(self) && r.End() > MaxID+1 {
			return nil, fmt.Errorf("idmap: range %s runs past id %d", r, uint64(MaxID))
		}
	}
	parts := withoutSelf(rs, self)
	m := make(Map, 0, len(parts)+1)
	m = append(m, Extent{Container: 0, Host: self, Count: 1})
	next := uint64(1)
	for _, r := range parts {
		if next+uint64(r.Count) > MaxID {
			return nil, fmt.Errorf("idmap: %d subordinate ids do not fit in one namespace (at most %d)", Total(rs), uint64(MaxID-1))
		}
		m = append(m, Extent{Container: uint32(next), Host: r.Start, Count: r.Count})
		next += uint64(r.Count)
	}
	return m, nil
}

// Maps returns the uid and gid maps that RootlessKit computes for s.User and
// the ranges in s; see [NewMap].
func Maps(s *Subids) (uid, gid Map, err error) {
	if uid, err = NewMap(s.User.UID, s.UIDs); err != nil {
		return nil, nil, err
	}
	if gid, err = NewMap(s.User.GID, s.GIDs); err != nil {
		return nil, nil, err
	}
	return uid, gid, nil
}

// Args returns m as the arguments that follow the pid on the newuidmap or
// newgidmap command line: container, host and count of each extent, in
// decimal.
func (m Map) Args() []string {
	out := make([]string, 0, 3*len(m))
	for _, e := range m {
		out = append(out,
			strconv.FormatUint(uint64(e.Container), 10),
			strconv.FormatUint(uint64(e.Host), 10),
			strconv.FormatUint(uint64(e.Count), 10))
	}
	return out
}

// String formats m as the kernel prints /proc/PID/uid_map.
func (m Map) String() string {
	var b strings.Builder
	for _, e := range m {
		fmt.Fprintf(&b, "%10d %10d %10d\n", e.Container, e.Host, e.Count)
	}
	return b.String()
}

// ToHost returns the host id that container id maps to, and false when id is
// not mapped (the kernel shows such ids as 65534, "nobody").
func (m Map) ToHost(id uint32) (uint32, bool) {
	for _, e := range m {
		if id >= e.Container && uint64(id) < uint64(e.Container)+uint64(e.Count) {
			return e.Host + (id - e.Container), true
		}
	}
	return 0, false
}

// ToContainer returns the container id that host id maps to, and false when
// id is not mapped. Use it to tell who owns a bind-mounted file inside the
// namespace.
func (m Map) ToContainer(id uint32) (uint32, bool) {
	for _, e := range m {
		if id >= e.Host && uint64(id) < uint64(e.Host)+uint64(e.Count) {
			return e.Container + (id - e.Host), true
		}
	}
	return 0, false
}

// Initial reports whether m is the identity map of the initial user
// namespace, "0 0 4294967295".
func (m Map) Initial() bool {
	return len(m) == 1 && m[0] == Extent{0, 0, MaxID}
}

// ParseMap reads a map in the format of /proc/PID/uid_map: one extent per
// line, three decimal numbers separated by blanks. name is used in errors,
// which say name:line. An empty input is an empty map: the namespace exists
// but nobody has written its map yet.
func ParseMap(name string, r io.Reader) (Map, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("idmap: read %s: %w", name, err)
	}
	var m Map
	for n, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("idmap: %s:%d: %d fields, want 3 (container host count)", name, n+1, len(f))
		}
		var v [3]uint32
		for i, s := range f {
			x, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("idmap: %s:%d: %q is not an id", name, n+1, s)
			}
			v[i] = uint32(x)
		}
		e := Extent{Container: v[0], Host: v[1], Count: v[2]}
		if e.Count == 0 || uint64(e.Container)+uint64(e.Count) > MaxID || uint64(e.Host)+uint64(e.Count) > MaxID {
			return nil, fmt.Errorf("idmap: %s:%d: extent %d %d %d is out of bounds", name, n+1, e.Container, e.Host, e.Count)
		}
		m = append(m, e)
	}
	return m, nil
}

// Namespace describes the user namespace a process runs in.
type Namespace struct {
	// InUserNS is true outside the initial user namespace: in a container,
	// in RootlessKit's namespace, or anywhere the maps are not the identity.
	// A namespace created from here is nested in this one, so the
	// subordinate ids handed to newuidmap must be mapped in UID and GID,
	// each range inside a single extent ([Validate] checks this). How deep
	// the nesting goes cannot be seen from inside: the kernel hides the
	// parents of the caller's own namespace.
	InUserNS bool
	// UID and GID are the process's uid_map and gid_map. They are empty
	// when the maps have not been written yet.
	UID, GID Map
}

// CurrentNamespace describes the user namespace of this process. InUserNS
// comes from github.com/moby/sys/userns, which also copes with OpenVZ.
func CurrentNamespace() (Namespace, error) {
	ns, err := ReadNamespace(os.DirFS("/"), 0)
	if err != nil {
		return Namespace{}, err
	}
	ns.InUserNS = userns.RunningInUserNS()
	return ns, nil
}

// ReadNamespace reads proc/PID/uid_map and gid_map from fsys, a file system
// rooted at "/" (os.DirFS("/") in production). pid 0 means "self". InUserNS
// is derived from the maps: anything but the identity map, including an
// empty one, means a user namespace. A missing uid_map (a kernel without user
// namespaces) means the initial namespace.
func ReadNamespace(fsys fs.FS, pid int) (Namespace, error) {
	dir := "proc/self"
	if pid > 0 {
		dir = "proc/" + strconv.Itoa(pid)
	}
	var ns Namespace
	for _, k := range [...]struct {
		file string
		m    *Map
	}{{"uid_map", &ns.UID}, {"gid_map", &ns.GID}} {
		data, err := fs.ReadFile(fsys, dir+"/"+k.file)
		if errors.Is(err, fs.ErrNotExist) && pid <= 0 {
			*k.m = Map{{0, 0, MaxID}}
			continue
		}
		if err != nil {
			return Namespace{}, fmt.Errorf("idmap: read /%s/%s: %w", dir, k.file, err)
		}
		if *k.m, err = ParseMap("/"+dir+"/"+k.file, strings.NewReader(string(data))); err != nil {
			return Namespace{}, err
		}
	}
	ns.InUserNS = !ns.UID.Initial()
	return ns, nil
}
