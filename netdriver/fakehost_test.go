package netdriver_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootlessd/rootlessd/netdriver"
)

// fakeHost describes a machine built from fixtures.
type fakeHost struct {
	// programs are absolute paths of executables.
	programs []string
	// setuid are absolute paths of setuid-root executables.
	setuid []string
	// files maps absolute paths to contents ("fixture:name" reads testdata/name).
	files map[string]string
	// outputs maps "path arg..." to the output ("fixture:name" reads
	// testdata/tools/name); a missing entry fails like a bad flag.
	outputs map[string]string
	user    string
	groups  []string
}

// ordinary is a machine with the namespace tools (ip, nsenter).
func ordinary() fakeHost {
	return fakeHost{programs: []string{"/usr/bin/ip", "/usr/bin/nsenter"}}
}

func (f fakeHost) with(programs ...string) fakeHost {
	f.programs = append(append([]string{}, f.programs...), programs...)
	return f
}

func (f fakeHost) out(cmd, output string) fakeHost {
	m := map[string]string{}
	for k, v := range f.outputs {
		m[k] = v
	}
	m[cmd] = output
	f.outputs = m
	return f
}

func (f fakeHost) file(path, content string) fakeHost {
	m := map[string]string{}
	for k, v := range f.files {
		m[k] = v
	}
	m[path] = content
	f.files = m
	return f
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f fakeHost) host(t testing.TB) *netdriver.Host {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, p := range f.programs {
		fsys[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Mode: 0o755}
	}
	for _, p := range f.setuid {
		fsys[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Mode: 0o755 | fs.ModeSetuid}
	}
	for p, c := range f.files {
		data := []byte(c)
		if name, ok := strings.CutPrefix(c, "fixture:"); ok {
			data = readFixture(t, name)
		}
		fsys[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	outputs := map[string][]byte{}
	for k, v := range f.outputs {
		data := []byte(v)
		if name, ok := strings.CutPrefix(v, "fixture:"); ok {
			data = readFixture(t, filepath.Join("tools", name))
		}
		outputs[k] = data
	}
	return &netdriver.Host{
		PATH: "/usr/local/bin:/usr/bin:/bin",
		FS:   fsys,
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			key := strings.Join(append([]string{name}, args...), " ")
			if out, ok := outputs[key]; ok {
				return out, nil
			}
			return []byte("unrecognised option\n"), errors.New("exit status 1")
		},
		User:   orStr(f.user, "alice"),
		Groups: f.groups,
	}
}

func orStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Common machines.
func slirpHost(version string) fakeHost {
	return ordinary().with("/usr/bin/slirp4netns").
		out("/usr/bin/slirp4netns --help", "fixture:slirp4netns-"+version+".help").
		out("/usr/bin/slirp4netns --version", "fixture:slirp4netns-"+version+".version")
}

func pastaHost(fixture string) fakeHost {
	return ordinary().with("/usr/bin/pasta").
		out("/usr/bin/pasta --version", "fixture:"+fixture)
}
