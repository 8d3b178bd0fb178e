//go:build integration

package integration

import (
	"archive/tar"
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootlessd/rootlessd/internal/testbed"
)

// rootfs writes a container root file system as a tar stream for `docker import`.
type rootfs struct {
	t    *testing.T
	tw   *tar.Writer
	seen map[string]bool
}

// header writes h unless its path was written already (libraries shared by programs); it
// reports whether it did.
func (r *rootfs) header(h *tar.Header) bool {
	r.t.Helper()
	name := strings.TrimPrefix(filepath.Clean(h.Name), "/")
	if r.seen[name] {
		return false
	}
	if dir := filepath.Dir(name); dir != "." && !r.seen[dir] {
		r.dir("/"+dir, 0o755, 0)
	}
	r.seen[name] = true
	h.Name = name
	if h.Typeflag == tar.TypeDir {
		h.Name += "/"
	}
	h.ModTime = time.Unix(0, 0)
	if err := r.tw.WriteHeader(h); err != nil {
		r.t.Fatal(err)
	}
	return true
}

func (r *rootfs) dir(path string, mode int64, uid int) {
	r.header(&tar.Header{Typeflag: tar.TypeDir, Name: path, Mode: mode, Uid: uid, Gid: uid})
}

func (r *rootfs) file(path string, data []byte, mode int64, uid int) {
	r.t.Helper()
	if !r.header(&tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: mode, Uid: uid, Gid: uid, Size: int64(len(data))}) {
		return
	}
	if _, err := r.tw.Write(data); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rootfs) symlink(path, target string) {
	r.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: path, Linkname: target, Mode: 0o777})
}

// copy copies a host file (following links) into the image at path.
func (r *rootfs) copy(host, path string, mode int64) {
	r.t.Helper()
	b, err := os.ReadFile(host)
	if err != nil {
		r.t.Fatal(err)
	}
	r.file(path, b, mode, 0)
}

// program copies a host program and the shared libraries ldd names for it.
func (r *rootfs) program(host, path string, mode int64) {
	r.t.Helper()
	r.copy(host, path, mode)
	out, err := exec.Command("ldd", host).Output()
	if err != nil {
		return // static
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			r.copy(f[2], f[2], 0o755)
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			r.copy(f[0], f[0], 0o755) // the loader, a regular file at the path programs name
		}
	}
}

// dindRootfs builds the example image's root file system: examples/dind as the entrypoint,
// the current stack's engine, newuidmap/newgidmap (setuid), util-linux's nsenter, unshare and
// mount, iproute2's ip, busybox, the docker
// CLI, a user "rootless" (1000) with a subordinate range inside a rootless daemon's 65536 ids,
// and the test image to load inside.
func dindRootfs(t *testing.T, bed *testbed.Bed, stack testbed.Stack, dind, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &rootfs{t: t, tw: tar.NewWriter(f), seen: map[string]bool{}}
	for _, d := range []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/etc", "/dev", "/proc", "/sys", "/run", "/root"} {
		r.dir(d, 0o755, 0)
	}
	r.dir("/tmp", 0o1777, 0)
	r.dir("/var/tmp", 0o1777, 0)
	r.dir("/run/user", 0o755, 0)
	r.dir("/run/user/1000", 0o700, 1000)
	r.dir("/home/rootless", 0o755, 1000)
	r.dir("/home/rootless/.local", 0o755, 1000)
	r.dir("/home/rootless/.local/share", 0o755, 1000)
	r.dir("/home/rootless/.local/share/docker", 0o710, 1000)
	r.file("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nrootless:x:1000:1000:rootless:/home/rootless:/bin/sh\n"), 0o644, 0)
	r.file("/etc/group", []byte("root:x:0:\nrootless:x:1000:\n"), 0o644, 0)
	r.file("/etc/subuid", []byte("rootless:2000:63536\n"), 0o644, 0)
	r.file("/etc/subgid", []byte("rootless:2000:63536\n"), 0o644, 0)
	r.program(dind, "/usr/local/bin/dind", 0o755)
	for _, b := range []string{"dockerd", "containerd", "containerd-shim-runc-v2", "runc", "docker-proxy"} {
		r.program(stack.Binary(b), "/usr/local/bin/"+b, 0o755)
	}
	r.program("/usr/local/bin/docker", "/usr/local/bin/docker", 0o755)
	r.program("/usr/bin/newuidmap", "/usr/bin/newuidmap", 0o4755)
	r.program("/usr/bin/newgidmap", "/usr/bin/newgidmap", 0o4755)
	for _, p := range []string{"/usr/bin/nsenter", "/usr/bin/unshare", "/usr/bin/mount", "/usr/bin/umount"} {
		r.program(p, p, 0o755) // util-linux: RootlessKit runs them (unshare -n mount --bind ... for the detached netns)
	}
	r.program("/usr/sbin/ip", "/usr/sbin/ip", 0o755)
	r.program("/bin/busybox", "/bin/busybox", 0o755)
	for _, a := range []string{"sh", "cat", "echo", "env", "grep", "id", "ls", "mkdir", "rm", "sleep", "tail", "head", "ps", "true", "false", "kill", "touch", "chmod", "stat"} {
		r.symlink("/bin/"+a, "busybox")
	}
	r.copy(bed.Image, "/probe.tar", 0o644)
	if err := r.tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDockerInDocker builds the dind example image (its rootfs made here, then `docker
// import`ed) and runs it in a rootless daemon of ours, where the inner rootless daemon loads an
// image and runs a container. It records what the outer container needs:
//   - --privileged works;
//   - so does the narrower --device /dev/net/tun, seccomp, AppArmor and systempaths unconfined,
//     and --cap-add SYS_ADMIN;
//   - with the default profile the inner daemon cannot start: without the tun device Check
//     refuses it, and with it seccomp forbids the user namespace.
func TestDockerInDocker(t *testing.T) {
	bed := testbed.Require(t)
	dind := example(t, "dind")
	stack := bed.Stacks[len(bed.Stacks)-1]
	u := bed.Self()
	d := launch(t, bed, stack)
	// On this host (no /.dockerenv) testcontainers finds ports on its own; in the container
	// below, Env must tell it.
	if _, err := os.Stat("/.dockerenv"); err != nil && os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" &&
		slices.ContainsFunc(d.Env(), func(kv string) bool { return strings.HasPrefix(kv, "TESTCONTAINERS_HOST_OVERRIDE=") }) {
		t.Errorf("Env %q sets TESTCONTAINERS_HOST_OVERRIDE on a host without /.dockerenv", d.Env())
	}
	scratch := testbed.ScratchDir(t, bed, stack, u.Home)
	tarPath := filepath.Join(scratch, "dind-rootfs.tar")
	dindRootfs(t, bed, stack, dind, tarPath)
	if out, err := cli(t, d.Host(), "import",
		"--change", "USER 1000:1000",
		"--change", "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--change", "ENV HOME=/home/rootless",
		"--change", "ENV XDG_RUNTIME_DIR=/run/user/1000",
		"--change", "VOLUME /home/rootless/.local/share/docker",
		"--change", `ENTRYPOINT ["/usr/local/bin/dind"]`,
		tarPath, "rootlessd-dind:test"); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	inner := "docker load -q -i /probe.tar && docker run --rm " + bed.ImageTag + " /bin/busybox echo inner-container-ran && " +
		"docker info --format 'inner: {{.ServerVersion}} {{.Driver}} {{.SecurityOptions}}' && env | grep -E '^(DOCKER_HOST|TESTCONTAINERS_HOST_OVERRIDE)='"
	run := func(flags ...string) (string, error) {
		args := append(append([]string{"run", "--rm"}, flags...), "rootlessd-dind:test", "--start-timeout", "2m", "--", "/bin/sh", "-c", inner)
		return cli(t, d.Host(), args...)
	}
	for name, flags := range map[string][]string{
		"privileged": {"--privileged"},
		"narrower": {"--device", "/dev/net/tun", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
			"--security-opt", "systempaths=unconfined", "--cap-add", "SYS_ADMIN"},
	} {
		out, err := run(flags...)
		t.Logf("%s %q: err=%v\n%s", name, flags, err, lastLines(out, 8))
		if err != nil {
			t.Errorf("%s: the rootless daemon in a container of a rootless daemon: %v", name, err)
			continue
		}
		for _, want := range []string{"inner-container-ran", "name=rootless", "TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q", name, want)
			}
		}
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "cannot open /dev/net/tun"},
		{[]string{"--device", "/dev/net/tun"}, "fork/exec /proc/self/exe: operation not permitted"},
	} {
		out, err := run(tc.flags...)
		t.Logf("%q: err=%v\n%s", tc.flags, err, lastLines(out, 4))
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("with %q the inner daemon should fail with %q", tc.flags, tc.want)
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
