//go:build linux

package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// probeHello is what the target writes along with the probe socket.
const probeHello = "rootlessd-probe"

// sendProbeSocket creates a UDP socket in the network namespace at netns and sends it to the
// unix socket at path. A socket stays in the namespace it was created in, whoever holds it:
// the host process, which cannot enter a user namespace's network namespace, sends datagrams
// through the network driver with it.
func sendProbeSocket(path, netns string) error {
	fd := -1
	err := inNetNS(netns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("UDP socket in %s: %w", netns, err)
	}
	defer unix.Close(fd)
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.(*net.UnixConn).WriteMsgUnix([]byte(probeHello), unix.UnixRights(fd), nil)
	return err
}

// ProbeListener is where the host receives the probe socket from the target.
type ProbeListener struct {
	l    *net.UnixListener
	path string
}

// ListenProbe listens on the unix socket path (mode 0600) for the target's probe socket; pass
// path as Target.ProbeSocket.
func ListenProbe(path string) (*ProbeListener, error) {
	_ = os.Remove(path) // a stale socket of a killed daemon
	// Not through the umask: it is the process's, and a concurrent fork (another Launch's
	// engine) would inherit it. The directory is private anyway.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return &ProbeListener{l: l, path: path}, nil
}

// Receive waits until deadline for the target's socket and returns it: a UDP socket in the
// containers' network namespace.
func (p *ProbeListener) Receive(deadline time.Time) (*os.File, error) {
	_ = p.l.SetDeadline(deadline)
	c, err := p.l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	buf, oob := make([]byte, len(probeHello)), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		if f, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, f...)
		}
	}
	if string(buf[:n]) != probeHello || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("engine: unexpected message on the probe socket")
	}
	unix.CloseOnExec(fds[0])
	return os.NewFile(uintptr(fds[0]), "probe-udp"), nil
}

// Close stops listening and removes the socket file.
func (p *ProbeListener) Close() error { return p.l.Close() }
