//go:build linux

package engine

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestProbeSocketHandoff: the target's UDP socket reaches the host through the unix socket and
// works there (here both sit in this test's network namespace).
func TestProbeSocketHandoff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probe.sock")
	pl, err := ListenProbe(path)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	sent := make(chan error, 1)
	go func() { sent <- sendProbeSocket(path, "/proc/self/ns/net") }()
	f, err := pl.Receive(time.Now().Add(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	pc, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	echo, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	if _, err := pc.WriteTo([]byte("ping"), echo.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = echo.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	n, from, err := echo.ReadFromUDP(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("echo got %q, %v", buf[:n], err)
	}
	if _, err := echo.WriteToUDP([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	_ = pc.SetDeadline(time.Now().Add(10 * time.Second))
	if n, _, err := pc.ReadFrom(buf); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("the handed-off socket got %q, %v", buf[:n], err)
	}
}
