//go:build linux

// Package testbed gives integration tests the machine that hack/provision prepared: the two engine
// stacks, the unprivileged test users, the test image, and the policy for hosts that lack them.
//
// Integration tests run as an unprivileged test user even when `go test` runs as root: a test
// package calls [Main] from its TestMain, which re-executes the test binary as the first test user.
// Every integration test starts with [Require]. On a host without the test bed it skips with the
// reason; with ROOTLESSD_REQUIRE_INTEGRATION=1 (as in CI) it fails instead.
package testbed

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// EnvRequire makes a missing prerequisite a failure instead of a skip when set to 1.
const EnvRequire = "ROOTLESSD_REQUIRE_INTEGRATION"

// EnvUser names the test user to run as (default: the bed's first).
const EnvUser = "ROOTLESSD_TESTBED_USER"

// EnvRoot overrides the test bed's root directory (default /opt/rootlessd).
const EnvRoot = "ROOTLESSD_TESTBED"

// envPkgDir carries the test package's source directory across the privilege drop, which changes
// the working directory to one the test user can enter.
const envPkgDir = "ROOTLESSD_TESTBED_PKGDIR"

// Bed is a provisioned test bed.
type Bed struct {
	Root     string
	Stacks   []Stack
	Users    []User
	Image    string // path of the test image archive (docker load format)
	ImageTag string
	// Pasta is a directory with a pasta and pesto new enough for RootlessKit's pasta driver and
	// its pesto port driver; "" if the bed has none. /usr/bin/pasta may be older.
	Pasta string
	// LXCBridge is the bridge lxc-user-nic attaches to (lxcbr0) and LXCBridgeAddr the host's
	// address on it; "" if the bed has none.
	LXCBridge, LXCBridgeAddr string
	// LXCNoDHCPBridge is a bridge the test users may attach to with lxc-user-nic that no DHCP
	// server serves; "" if the bed has none.
	LXCNoDHCPBridge string
	// OldRootlessKit is a rootlesskit older than the stacks' (2.3.1), for version checks; "" if none.
	OldRootlessKit string
}

// Stack is one engine stack: dockerd, containerd, runc, rootlesskit and that engine's own
// dockerd-rootless.sh, all in Bin.
type Stack struct {
	Name string // "distro" or "current"
	Bin  string
}

// Path is a PATH value that picks this stack's binaries first.
func (s Stack) Path() string {
	return s.Bin + ":" + SystemPath
}

// Binary is the path of a program of this stack.
func (s Stack) Binary(name string) string { return filepath.Join(s.Bin, name) }

// SystemPath is the PATH of the test processes, without any stack.
const SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// User is an unprivileged test user.
type User struct {
	Name       string
	UID, GID   int
	Home       string
	RuntimeDir string // private (0700) and owned by the user
}

// readEnvFile reads KEY=VALUE lines; a value may be in double quotes (the file is also sourced
// by shell scripts).
func readEnvFile(name string) (map[string]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", name, line)
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		kv[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return kv, nil
}

// Load reads the test bed description that hack/provision wrote.
func Load() (*Bed, error) {
	root := os.Getenv(EnvRoot)
	if root == "" {
		root = "/opt/rootlessd"
	}
	envFile := filepath.Join(root, "testbed.env")
	kv, err := readEnvFile(envFile)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("test bed not provisioned (%w); run: sudo hack/provision", err)
	}
	if err != nil {
		return nil, err
	}
	bed := &Bed{Root: root, Image: kv["ROOTLESSD_TESTBED_IMAGE"], ImageTag: kv["ROOTLESSD_TESTBED_IMAGE_TAG"], Pasta: kv["ROOTLESSD_TESTBED_PASTA"]}
	bed.LXCBridge, bed.LXCBridgeAddr, _ = strings.Cut(kv["ROOTLESSD_TESTBED_LXC_BRIDGE"], ":")
	bed.OldRootlessKit = kv["ROOTLESSD_TESTBED_OLD_ROOTLESSKIT"]
	bed.LXCNoDHCPBridge = kv["ROOTLESSD_TESTBED_LXC_NODHCP_BRIDGE"]
	for _, s := range strings.Fields(kv["ROOTLESSD_TESTBED_STACKS"]) {
		name, bin, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("%s: malformed stack %q", envFile, s)
		}
		bed.Stacks = append(bed.Stacks, Stack{Name: name, Bin: bin})
	}
	for _, name := range strings.Fields(kv["ROOTLESSD_TESTBED_USERS"]) {
		u, err := lookupUser(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envFile, err)
		}
		bed.Users = append(bed.Users, u)
	}
	if len(bed.Stacks) == 0 || len(bed.Users) == 0 || bed.Image == "" {
		return nil, fmt.Errorf("%s: incomplete (stacks, users and image are required); run: sudo hack/provision", envFile)
	}
	return bed, nil
}

func lookupUser(name string) (User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return User{}, fmt.Errorf("test user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return User{Name: u.Username, UID: uid, GID: gid, Home: u.HomeDir, RuntimeDir: fmt.Sprintf("/run/user/%d", uid)}, nil
}

// Stack returns the stack with the given name.
func (b *Bed) Stack(name string) (Stack, bool) {
	for _, s := range b.Stacks {
		if s.Name == name {
			return s, true
		}
	}
	return Stack{}, false
}

// Self returns the test user this process runs as.
func (b *Bed) Self() User {
	uid := os.Getuid()
	for _, u := range b.Users {
		if u.UID == uid {
			return u
		}
	}
	// A user made for a parallel run (ROOTLESSD_TESTBED_USER) that this bed does not list.
	if pw, err := user.LookupId(strconv.Itoa(uid)); err == nil && uid != 0 {
		if u, err := lookupUser(pw.Username); err == nil {
			return u
		}
	}
	return User{}
}

// Require returns the test bed, or skips tb (fails it when ROOTLESSD_REQUIRE_INTEGRATION=1) when
// this host or process cannot run the integration tests.
func Require(tb testing.TB) *Bed {
	tb.Helper()
	bed, err := check()
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatalf("integration prerequisite missing (%s=1 makes this a failure): %v", EnvRequire, err)
		}
		tb.Skipf("integration prerequisite missing: %v", err)
	}
	return bed
}

func check() (*Bed, error) {
	if dropErr != nil {
		return nil, dropErr
	}
	bed, err := Load()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		return nil, errors.New("running as root: integration tests must run as a test user; call testbed.Main from TestMain")
	}
	if bed.Self().Name == "" {
		return nil, fmt.Errorf("uid %d is not a test user of the bed (%v)", os.Getuid(), bed.Users)
	}
	st, err := os.Stat("/dev/net/tun")
	if err != nil {
		return nil, fmt.Errorf("/dev/net/tun: %w", err)
	}
	if st.Mode().Perm()&0o006 != 0o006 {
		return nil, fmt.Errorf("/dev/net/tun is mode %v; run: sudo chmod 0666 /dev/net/tun", st.Mode().Perm())
	}
	if _, err := os.Stat(bed.Image); err != nil {
		return nil, fmt.Errorf("test image: %w", err)
	}
	return bed, nil
}

// PackageDir is the test package's source directory (the working directory of `go test`).
func PackageDir() string {
	if d := os.Getenv(envPkgDir); d != "" {
		return d
	}
	d, _ := os.Getwd()
	return d
}
