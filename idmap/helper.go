package idmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"

	"github.com/rootlessd/rootlessd/diag"
)

// Helper describes an installed newuidmap or newgidmap, the setuid programs
// that write a namespace's maps on behalf of an unprivileged user.
type Helper struct {
	Name string // "newuidmap" or "newgidmap"
	Path string // where it was found; "" if it was not
	// Setuid reports a root-owned program with the setuid bit (Debian,
	// Ubuntu, Arch).
	Setuid bool
	// Caps reports a file capability (the security.capability attribute)
	// that grants CAP_SETUID to newuidmap or CAP_SETGID to newgidmap
	// (Fedora, openSUSE).
	Caps bool
	// NoSuid reports a file system mounted nosuid, where neither works.
	NoSuid bool
}

// Usable reports whether h can write maps: it exists, is setuid root or has
// the capability, and is not on a nosuid mount.
func (h Helper) Usable() bool { return h.Path != "" && (h.Setuid || h.Caps) && !h.NoSuid }

// FindHelper looks name up in $PATH (or takes it as a path if it has a
// slash) and inspects it. The error is a [*diag.Finding] with a remedy when
// the program is missing ([IDNewuidmapMissing], [IDNewgidmapMissing]) or
// cannot gain the privilege it needs ([IDNewuidmapNotSetuid],
// [IDNewgidmapNotSetuid]); the Helper is filled in as far as it could be.
// A name whose last element is not newgidmap counts as newuidmap.
func FindHelper(name string) (Helper, error) {
	base := filepath.Base(name)
	h := Helper{Name: base}
	ids := uidKind.ids()
	if base == "newgidmap" {
		ids = gidKind.ids()
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return h, &diag.Finding{ID: ids.helperMissing, Severity: diag.Error, Evidence: name,
			Detail: fmt.Sprintf("%s not found: %v", name, err),
			Fix:    "install newuidmap and newgidmap (Debian and Ubuntu: sudo apt-get install uidmap; Fedora: sudo dnf install shadow-utils)",
			Err:    err}
	}
	h.Path = path
	if err := inspectHelper(&h); err != nil {
		return h, fmt.Errorf("idmap: inspect %s: %w", path, err)
	}
	if h.Usable() {
		return h, nil
	}
	detail := fmt.Sprintf("%s is neither setuid root nor has the file capability %s", path, helperCap(base))
	fix := fmt.Sprintf("run: sudo chown root %s && sudo chmod u+s %s (or: sudo setcap %s=ep %s)", path, path, helperCap(base), path)
	if h.NoSuid {
		detail = fmt.Sprintf("%s is on a file system mounted nosuid, where setuid bits and file capabilities do nothing", path)
		fix = fmt.Sprintf("install %s on a file system mounted without nosuid", base)
	}
	return h, &diag.Finding{ID: ids.helperNotSetuid, Severity: diag.Error, Detail: detail, Evidence: path, Fix: fix}
}

func helperCap(base string) string {
	if base == "newgidmap" {
		return "cap_setgid"
	}
	return "cap_setuid"
}

// judgeHelper fills in Setuid and Caps from a file's mode, owner and
// security.capability attribute (nil when absent).
func judgeHelper(h *Helper, mode fs.FileMode, owner uint32, xattr []byte) {
	h.Setuid = mode&fs.ModeSetuid != 0 && owner == 0
	bit := uint(7) // CAP_SETUID
	if h.Name == "newgidmap" {
		bit = 6 // CAP_SETGID
	}
	if c, err := parseFileCaps(xattr); err == nil {
		h.Caps = c.permitted&(1<<bit) != 0
	}
}

// fileCaps is a decoded security.capability attribute (struct
// vfs_cap_data, linux/capability.h).
type fileCaps struct {
	version   int
	effective bool
	permitted uint64
	rootID    uint32 // version 3: the namespace root the caps apply to
}

var errNoCaps = errors.New("no file capabilities")

// parseFileCaps decodes a security.capability attribute.
func parseFileCaps(b []byte) (fileCaps, error) {
	if len(b) == 0 {
		return fileCaps{}, errNoCaps
	}
	if len(b) < 4 {
		return fileCaps{}, fmt.Errorf("capability attribute of %d bytes is too short", len(b))
	}
	magic := binary.LittleEndian.Uint32(b)
	c := fileCaps{effective: magic&1 != 0}
	var want int
	switch magic & 0xFF000000 {
	case 0x01000000:
		c.version, want = 1, 12
	case 0x02000000:
		c.version, want = 2, 20
	case 0x03000000:
		c.version, want = 3, 24
	default:
		return fileCaps{}, fmt.Errorf("unknown capability revision %#x", magic&0xFF000000)
	}
	if len(b) != want {
		return fileCaps{}, fmt.Errorf("capability attribute of version %d has %d bytes, want %d", c.version, len(b), want)
	}
	c.permitted = uint64(binary.LittleEndian.Uint32(b[4:]))
	if c.version >= 2 {
		c.permitted |= uint64(binary.LittleEndian.Uint32(b[12:])) << 32
	}
	if c.version == 3 {
		c.rootID = binary.LittleEndian.Uint32(b[20:])
	}
	return c, nil
}
