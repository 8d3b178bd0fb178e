package idmap

import (
	"context"
	"errors"
	"io/fs"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/diag"
)

// denyFS refuses to open one file, like /etc/subuid with mode 0600.
type denyFS struct {
	fs.FS
	deny string
}

func (d denyFS) Open(name string) (fs.File, error) {
	if name == d.deny {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return d.FS.Open(name)
}

func mapFS(subuid, subgid string) fstest.MapFS {
	m := fstest.MapFS{}
	if subuid != "-" {
		m["etc/subuid"] = &fstest.MapFile{Data: []byte(subuid)}
	}
	if subgid != "-" {
		m["etc/subgid"] = &fstest.MapFile{Data: []byte(subgid)}
	}
	return m
}

func findingIDs(err error) []diag.ID { return idsOf(diag.List(err)) }

func TestLookupFiles(t *testing.T) {
	const both = "alice:100000:65536\n"
	tests := []struct {
		name       string
		fsys       fs.FS
		user       User
		uids, gids []Range
		errIs      error     // nil: no error
		ids        []diag.ID // finding ids in the error
		fix        string    // substring of the first finding's remedy
	}{
		{name: "by name", fsys: mapFS(both, both), user: alice,
			uids: []Range{{100000, 65536}}, gids: []Range{{100000, 65536}}},
		{name: "by uid", fsys: mapFS("1000:100000:65536\n", "1000:100000:65536\n"), user: alice,
			uids: []Range{{100000, 65536}}, gids: []Range{{100000, 65536}}},
		{name: "name and uid lines, file order, repeats kept", fsys: mapFS("1000:200000:65536\nbob:1:2\nalice:100000:65536\nalice:200000:65536\n", both), user: alice,
			uids: []Range{{200000, 65536}, {100000, 65536}, {200000, 65536}}, gids: []Range{{100000, 65536}}},
		{name: "uid without passwd entry", fsys: mapFS("1000:100000:65536\nalice:1:2\n", "1000:100000:65536\n"), user: User{UID: 1000, GID: 1000},
			uids: []Range{{100000, 65536}}, gids: []Range{{100000, 65536}}},
		{name: "another user's malformed lines", fsys: mapFS("bob:1:2:3\nbob\r\nalice:100000:65536\n:::\n", "carol:x:1\n"+both), user: alice,
			uids: []Range{{100000, 65536}}, gids: []Range{{100000, 65536}}},
		{name: "no entry", fsys: mapFS("bob:100000:65536\n", "bob:100000:65536\n"), user: alice,
			errIs: ErrNoRanges, ids: []diag.ID{IDSubidsMissing}, fix: "run: sudo usermod --add-subuids 165536-231071 --add-subgids 165536-231071 alice"},
		{name: "subgid only missing", fsys: mapFS(both, "bob:100000:65536\n"), user: alice, uids: []Range{{100000, 65536}},
			errIs: ErrNoRanges, ids: []diag.ID{IDSubgidMissing}, fix: "run: sudo usermod --add-subgids 165536-231071 alice"},
		{name: "subgid keyed by group", fsys: mapFS(both, "staff:100000:65536\n"), user: User{Name: "alice", UID: 1000, GID: 50, Group: "staff"},
			uids: []Range{{100000, 65536}}, errIs: ErrNoRanges, ids: []diag.ID{IDSubgidMissing}},
		{name: "files missing", fsys: mapFS("-", "-"), user: alice,
			errIs: ErrNoRanges, ids: []diag.ID{IDSubidsMissing}, fix: "run: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice"},
		{name: "nameless user", fsys: mapFS("-", "-"), user: User{UID: 1234, GID: 1234},
			errIs: ErrNoRanges, ids: []diag.ID{IDSubidsMissing}, fix: "run: echo 1234:100000:65536 | sudo tee -a /etc/subuid /etc/subgid"},
		{name: "only line has CR", fsys: mapFS("alice:100000:65536\r\n", both), user: alice, gids: []Range{{100000, 65536}},
			errIs: ErrNoRanges, ids: []diag.ID{IDSubuidMissing}, fix: `sed -i 's/\r$//' /etc/subuid`},
		{name: "count 0 only", fsys: mapFS("alice:100000:0\n", both), user: alice, gids: []Range{{100000, 65536}},
			errIs: ErrNoRanges, ids: []diag.ID{IDSubuidMissing}},
		{name: "unreadable", fsys: denyFS{mapFS(both, both), "etc/subuid"}, user: alice, gids: []Range{{100000, 65536}},
			errIs: fs.ErrPermission, ids: []diag.ID{IDSubuidUnreadable}, fix: "sudo chmod 644 /etc/subuid"},
		{name: "nss sss, files empty", fsys: fstest.MapFS{"etc/nsswitch.conf": {Data: []byte("subid: sss\n")}}, user: alice,
			errIs: ErrNoRanges, ids: []diag.ID{IDSubidsMissing}, fix: `in the "sss" subid database`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Lookup(t.Context(), Files{FS: tt.fsys}, tt.user)
			if s == nil {
				t.Fatal("nil *Subids")
			}
			if !slices.Equal(s.UIDs, tt.uids) || !slices.Equal(s.GIDs, tt.gids) {
				t.Errorf("ranges = %v / %v, want %v / %v", s.UIDs, s.GIDs, tt.uids, tt.gids)
			}
			if tt.errIs == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.errIs) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.errIs)
			}
			if got := findingIDs(err); !slices.Equal(got, tt.ids) {
				t.Errorf("finding ids = %q, want %q", got, tt.ids)
			}
			f, ok := errors.AsType[*diag.Finding](err)
			if !ok {
				t.Fatalf("err %v holds no *Finding", err)
			}
			var r interface{ Remedy() string }
			if !errors.As(err, &r) || r.Remedy() == "" {
				t.Errorf("err %v has no remedy", err)
			}
			if !strings.Contains(f.Remedy(), tt.fix) {
				t.Errorf("remedy = %q, want it to contain %q", f.Remedy(), tt.fix)
			}
			if !strings.HasPrefix(err.Error(), "idmap.") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestLookupGroupPitfall(t *testing.T) {
	u := User{Name: "alice", UID: 1000, GID: 50, Group: "staff"}
	_, err := Lookup(t.Context(), Files{FS: mapFS("alice:100000:65536\n", "staff:100000:65536\n")}, u)
	if err == nil || !strings.Contains(err.Error(), `/etc/subgid:1 is keyed by the group "staff"`) {
		t.Errorf("err = %v, want the group-key pitfall pointed out", err)
	}
}

func TestLookupFreeRangeAvoidsEveryone(t *testing.T) {
	// Other users, a CRLF line (someone's intended range) and a commented
	// entry all occupy ids; the suggestion must miss every one of them.
	subuid := "bob:100000:65536\r\n#carol:165536:65536\ndave:231072:10\n"
	subgid := "erin:231082:65536\n"
	_, err := Lookup(t.Context(), Files{FS: mapFS(subuid, subgid)}, alice)
	f, ok := errors.AsType[*diag.Finding](err)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	const want = "--add-subuids 296618-362153 --add-subgids 296618-362153 alice"
	if !strings.HasSuffix(f.Remedy(), want) {
		t.Errorf("remedy = %q, want it to end in %q", f.Remedy(), want)
	}
}

func TestLookupGetsubids(t *testing.T) {
	tests := []struct {
		name       string
		outputs    map[string]string
		uids, gids []Range
		errIs      error
		ids        []diag.ID
	}{
		{name: "by name", outputs: map[string]string{"alice": "0: alice 100000 65536\n", "-g_alice": "0: alice 100000 65536\n"},
			uids: []Range{{100000, 65536}}, gids: []Range{{100000, 65536}}},
		{name: "name and uid, union without repeats", outputs: map[string]string{
			"alice": "0: alice 100000 65536\n1: alice 300000 65536\n", "1000": "0: 1000 100000 65536\n1: 1000 200000 65536\n",
			"-g_1000": "0: 1000 100000 65536\n"},
			uids: []Range{{100000, 65536}, {300000, 65536}, {200000, 65536}}, gids: []Range{{100000, 65536}}},
		{name: "exit 1 everywhere", outputs: map[string]string{},
			errIs: ErrUnknown, ids: []diag.ID{IDSubuidUnknown, IDSubgidUnknown}},
		{name: "other exit status", outputs: map[string]string{"alice.exit": "2", "1000.exit": "2", "-g_alice": "0: alice 1 65536\n"},
			gids: []Range{{1, 65536}}, ids: []diag.ID{IDGetsubidsFailed}},
		{name: "garbage output", outputs: map[string]string{"alice": "0: alice x y\n", "-g_alice": "0: alice 1 65536\n"},
			gids: []Range{{1, 65536}}, ids: []diag.ID{IDGetsubidsFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := fakeGetsubids(t, tt.outputs)
			s, err := Lookup(t.Context(), g, alice)
			if !slices.Equal(s.UIDs, tt.uids) || !slices.Equal(s.GIDs, tt.gids) {
				t.Errorf("ranges = %v / %v, want %v / %v", s.UIDs, s.GIDs, tt.uids, tt.gids)
			}
			if s.Source != "getsubids" {
				t.Errorf("Source = %q", s.Source)
			}
			if got := findingIDs(err); !slices.Equal(got, tt.ids) {
				t.Errorf("finding ids = %q, want %q (err %v)", got, tt.ids, err)
			}
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.errIs)
			}
			if errors.Is(err, ErrNoRanges) {
				t.Errorf("err = %v: getsubids must never claim that there are no ranges", err)
			}
		})
	}
}

func TestLookupGetsubidsMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GETSUBIDS", "")
	s, err := Lookup(t.Context(), Getsubids{}, alice)
	if got := findingIDs(err); !slices.Equal(got, []diag.ID{IDGetsubidsMissing}) || !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("err = %v (ids %q), want getsubids-missing wrapping exec.ErrNotFound", err, got)
	}
	if s == nil || len(s.UIDs) != 0 {
		t.Errorf("s = %+v", s)
	}
}

func TestLookupAuto(t *testing.T) {
	files := mapFS("alice:500000:65536\nbob:100000:65536\n", "alice:500000:65536\n")
	t.Run("getsubids answers", func(t *testing.T) {
		g := fakeGetsubids(t, map[string]string{"alice": "0: alice 100000 65536\n", "-g_alice": "0: alice 100000 65536\n"})
		s, err := Lookup(t.Context(), Auto{Files: Files{FS: files}, Getsubids: g}, alice)
		if err != nil || s.Source != "getsubids" || !slices.Equal(s.UIDs, []Range{{100000, 65536}}) {
			t.Fatalf("s = %+v, err = %v", s, err)
		}
		if s.UIDFile == nil || s.GIDFile == nil {
			t.Errorf("files not read for context although nsswitch.conf names files")
		}
		if ids := idsOf(Validate(s, Namespace{})); !slices.Contains(ids, IDSubuidShared) {
			t.Errorf("findings %q miss subuid-shared (alice's getsubids range is bob's in the file)", ids)
		}
	})
	t.Run("getsubids lacks subgid ranges", func(t *testing.T) {
		g := fakeGetsubids(t, map[string]string{"alice": "0: alice 100000 65536\n"})
		s, err := Lookup(t.Context(), Auto{Files: Files{FS: files}, Getsubids: g}, alice)
		if err != nil || s.Source != "files" || !slices.Equal(s.UIDs, []Range{{500000, 65536}}) {
			t.Fatalf("s = %+v, err = %v", s, err)
		}
		if len(s.Diags) == 0 || s.Diags[0].Code != "getsubids-failed" {
			t.Errorf("diags = %v, want the fallback explained first", s.Diags)
		}
	})
	t.Run("files confirm none", func(t *testing.T) {
		g := fakeGetsubids(t, map[string]string{})
		_, err := Lookup(t.Context(), Auto{Files: Files{FS: mapFS("", "")}, Getsubids: g}, alice)
		if !errors.Is(err, ErrNoRanges) || errors.Is(err, ErrUnknown) {
			t.Errorf("err = %v, want ErrNoRanges only", err)
		}
	})
}

func TestLookupCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s, err := Lookup(ctx, Files{FS: mapFS("", "")}, alice)
	if !errors.Is(err, context.Canceled) || s == nil {
		t.Errorf("Lookup = %v, %v", s, err)
	}
}

func idsOf(fs []*diag.Finding) []diag.ID {
	var out []diag.ID
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}
