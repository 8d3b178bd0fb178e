package idmap

import (
	"os"
	"strconv"
	"testing"
)

func TestCurrentUser(t *testing.T) {
	u, err := CurrentUser()
	if err != nil {
		t.Fatal(err)
	}
	if int(u.UID) != os.Getuid() {
		t.Errorf("UID = %d, want %d", u.UID, os.Getuid())
	}
	if u.Name != "" {
		byName, err := LookupUser(u.Name)
		if err != nil || byName.UID != u.UID || byName.GID != u.GID {
			t.Errorf("LookupUser(%q) = %+v, %v, want %+v", u.Name, byName, err, u)
		}
	}
	byUID, err := LookupUser(strconv.Itoa(os.Getuid()))
	if err != nil || byUID.UID != u.UID {
		t.Errorf("LookupUser(uid) = %+v, %v", byUID, err)
	}
}

func TestLookupUserWithoutPasswdEntry(t *testing.T) {
	u, err := LookupUser("3999999999")
	if err != nil || u.Name != "" || u.UID != 3999999999 || u.GID != 3999999999 {
		t.Errorf("LookupUser = %+v, %v", u, err)
	}
	if u.String() != "uid 3999999999" || u.key() != "3999999999" {
		t.Errorf("String = %q", u)
	}
	if _, err := LookupUser("no-such-user-idmap-test"); err == nil {
		t.Error("unknown name: no error")
	}
}
