package idmap

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// User is the account whose subordinate ids are looked up. newuidmap and
// newgidmap both search for the user (by name, then by uid), never for a
// group: /etc/subgid is keyed by the user too.
type User struct {
	// Name is the login name, or "" when the uid has no passwd entry that
	// this program can see.
	Name string
	// UID is the user id; it is mapped to root in the namespace.
	UID uint32
	// GID is the primary group id from the passwd entry (the real gid when
	// there is none); it is mapped to group 0 in the namespace.
	GID uint32
	// Group is the primary group's name, or "" when unknown. Only used to
	// point out subgid lines keyed by a group, which newgidmap ignores.
	Group string
}

// String returns "alice (uid 1000)", or "uid 1000" for a user without a name.
func (u User) String() string {
	if u.Name == "" {
		return "uid " + strconv.FormatUint(uint64(u.UID), 10)
	}
	return fmt.Sprintf("%s (uid %d)", u.Name, u.UID)
}

// key is the string newuidmap compares owners against: the name, or the
// decimal uid for a user without a name.
func (u User) key() string {
	if u.Name != "" {
		return u.Name
	}
	return strconv.FormatUint(uint64(u.UID), 10)
}

// CurrentUser returns the user this process runs as, resolved the way
// RootlessKit resolves it (os/user.Current). A uid without a passwd entry
// is not an error: it yields a User without a Name, which [Validate] reports.
func CurrentUser() (User, error) {
	if u, err := user.Current(); err == nil {
		return fromOS(u)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if uid < 0 || gid < 0 {
		return User{}, errors.New("idmap: current user: no uid on this platform")
	}
	return User{UID: uint32(uid), GID: uint32(gid)}, nil
}

// LookupUser returns the user with the given login name or decimal uid. A
// numeric argument is tried as a uid first, as shadow does. A uid without a
// passwd entry yields a User without a Name; its GID is the real gid if it is
// the current user, else its UID (the user-private-group convention).
func LookupUser(nameOrUID string) (User, error) {
	if id, err := strconv.ParseUint(nameOrUID, 10, 32); err == nil {
		u, err := user.LookupId(nameOrUID)
		if err == nil {
			return fromOS(u)
		}
		if _, unknown := errors.AsType[user.UnknownUserIdError](err); !unknown {
			return User{}, fmt.Errorf("idmap: look up uid %d: %w", id, err)
		}
		if u, err := user.Lookup(nameOrUID); err == nil {
			return fromOS(u)
		}
		gid := uint32(id) // the user-private-group convention
		if os.Getuid() == int(id) && os.Getgid() >= 0 {
			gid = uint32(os.Getgid())
		}
		return User{UID: uint32(id), GID: gid}, nil
	}
	u, err := user.Lookup(nameOrUID)
	if err != nil {
		return User{}, fmt.Errorf("idmap: look up user %q: %w", nameOrUID, err)
	}
	return fromOS(u)
}

func fromOS(u *user.User) (User, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("idmap: user %q: uid %q is not a number", u.Username, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("idmap: user %q: gid %q is not a number", u.Username, u.Gid)
	}
	out := User{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		out.Group = g.Name
	}
	return out, nil
}
