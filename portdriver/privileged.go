package portdriver

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/rootlessd/rootlessd/netdriver"
)

// CapNetBindService is the number of CAP_NET_BIND_SERVICE.
const CapNetBindService = 10

// FileCaps is a file's capabilities, decoded from its security.capability
// extended attribute (struct vfs_cap_data / vfs_ns_cap_data).
type FileCaps struct {
	// Revision is 1, 2 or 3 (3 carries RootID: capabilities that apply
	// only in a user namespace whose root is RootID).
	Revision int
	// Permitted and Inheritable are bit sets indexed by capability number.
	Permitted, Inheritable uint64
	// Effective is the file's effective bit ("=ep" sets it). Programs that
	// are not capability-aware, such as Go programs, need it.
	Effective bool
	// RootID is the namespace root uid of a revision 3 attribute.
	RootID uint32
}

// Has reports whether a program started from the file gets capability c in
// its effective set: c is permitted and the effective bit is set.
func (c FileCaps) Has(capability int) bool {
	return capability >= 0 && capability < 64 && c.Effective && c.Permitted&(1<<capability) != 0
}

// ParseFileCaps decodes a security.capability extended attribute.
func ParseFileCaps(b []byte) (FileCaps, error) {
	const (
		revMask   = 0xFF000000
		effective = 0x000001
		rev1      = 0x01000000
		rev2      = 0x02000000
		rev3      = 0x03000000
	)
	if len(b) < 4 {
		return FileCaps{}, fmt.Errorf("portdriver: security.capability: %d bytes, want at least 4", len(b))
	}
	magic := binary.LittleEndian.Uint32(b)
	c := FileCaps{Effective: magic&effective != 0}
	words, size := 0, 0
	switch magic & revMask {
	case rev1:
		c.Revision, words, size = 1, 1, 12
	case rev2:
		c.Revision, words, size = 2, 2, 20
	case rev3:
		c.Revision, words, size = 3, 2, 24
	default:
		return FileCaps{}, fmt.Errorf("portdriver: security.capability: unknown revision %#x", magic&revMask)
	}
	if len(b) != size {
		return FileCaps{}, fmt.Errorf("portdriver: security.capability: revision %d is %d bytes, got %d", c.Revision, size, len(b))
	}
	if magic&^(revMask|effective) != 0 {
		return FileCaps{}, fmt.Errorf("portdriver: security.capability: unknown flags %#x", magic&^(revMask|effective))
	}
	for i := 0; i < words; i++ {
		c.Permitted |= uint64(binary.LittleEndian.Uint32(b[4+8*i:])) << (32 * i)
		c.Inheritable |= uint64(binary.LittleEndian.Uint32(b[8+8*i:])) << (32 * i)
	}
	if c.Revision == 3 {
		c.RootID = binary.LittleEndian.Uint32(b[20:])
	}
	return c, nil
}

// unprivilegedPortStart reads net.ipv4.ip_unprivileged_port_start; if it
// cannot be read it returns the kernel default, 1024, and false.
func unprivilegedPortStart(h *netdriver.Host) (int, bool) {
	s, err := h.Sysctl("net.ipv4.ip_unprivileged_port_start")
	if err != nil {
		return 1024, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65536 {
		return 1024, false
	}
	return n, true
}

// CheckPrivileged reports whether the host port can be bound by the
// process that binds it (see [Binder]): nil if the port is at or above
// net.ipv4.ip_unprivileged_port_start, or if binder (the executable's
// absolute path; "" if unknown) has CAP_NET_BIND_SERVICE as an effective
// file capability. Otherwise it returns an [*diag.Finding] with
// [netdriver.IDPrivilegedPort] that reports the sysctl's current value and
// both remedies: lower the sysctl host-wide, or grant the capability to
// the binder (for the builtin driver the rootlesskit binary, or the helper
// executable in the embedded engine).
func CheckPrivileged(ctx context.Context, h *netdriver.Host, hostPort uint16, binder string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start, known := unprivilegedPortStart(h)
	if int(hostPort) >= start {
		return nil
	}
	var capNote string
	if binder != "" {
		raw, err := h.FileCapsRaw(binder)
		caps, perr := ParseFileCaps(raw)
		switch {
		case err != nil:
			capNote = fmt.Sprintf("%s has no file capabilities", binder)
			if !isNoData(err) {
				capNote = fmt.Sprintf("the file capabilities of %s cannot be read (%v)", binder, err)
			}
		case perr != nil:
			capNote = fmt.Sprintf("the file capabilities of %s cannot be parsed (%v)", binder, perr)
		case caps.Has(CapNetBindService):
			return nil
		case caps.Permitted&(1<<CapNetBindService) != 0:
			capNote = fmt.Sprintf("%s has cap_net_bind_service permitted but not effective (set it with =ep)", binder)
		default:
			capNote = fmt.Sprintf("%s lacks cap_net_bind_service", binder)
		}
	} else {
		capNote = "the binding executable is unknown, so its capabilities were not checked"
	}
	cur := strconv.Itoa(start)
	if !known {
		cur = "unreadable, assumed 1024"
	}
	target := binder
	if target == "" {
		target = "<the rootlesskit binary, or the helper executable in the embedded engine>"
	}
	return netdriver.Problem(netdriver.IDPrivilegedPort, "", fmt.Sprintf("cannot expose privileged port %d: net.ipv4.ip_unprivileged_port_start is %s and %s",
		hostPort, cur, capNote), fmt.Sprintf("add \"net.ipv4.ip_unprivileged_port_start=%d\" to /etc/sysctl.d/99-rootless.conf and run sudo sysctl --system (host-wide, for all users); "+
		"or run sudo setcap cap_net_bind_service=ep %s and restart the daemon; or choose a port >= %d", hostPort, target, start))
}
