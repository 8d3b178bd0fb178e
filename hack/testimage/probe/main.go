// Command probe is the program inside the test image (rootlessd-probe): an HTTP responder that
// reports the client address it saw, and a TCP sink and source for throughput measurements.
//
//	probe http   [-addr :80]    GET / answers "rootlessd-probe ok"; GET /remote answers the client's ip:port
//	probe sink   [-addr :5001]  reads each connection to EOF, then answers the byte count
//	probe source [-addr :5002]  writes zeros to every connection until the peer closes it
//	probe udp    [-addr :81]    answers each UDP datagram with the sender's ip:port
//	probe push   -to ADDR -bytes N  connects to ADDR, writes N bytes, half-closes, prints the reply
//	probe get    -url URL           prints the body of GET URL; on failure the error, and exits 1
//
// It is built statically and needs nothing from the image but itself.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rootlessd/rootlessd/hack/testimage/wire"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe http|sink|source|udp [-addr ADDR] | push -to ADDR | get -url URL")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	defaults := map[string]string{
		"http":   fmt.Sprintf(":%d", wire.HTTPPort),
		"sink":   fmt.Sprintf(":%d", wire.SinkPort),
		"source": fmt.Sprintf(":%d", wire.SourcePort),
		"udp":    fmt.Sprintf(":%d", wire.UDPPort),
	}
	addr := fs.String("addr", defaults[mode], "listen address")
	to := fs.String("to", "", "push: address to connect to")
	n := fs.Int64("bytes", 64<<20, "push: bytes to send")
	url := fs.String("url", "", "get: URL to fetch")
	_ = fs.Parse(os.Args[2:])
	var err error
	switch mode {
	case "http":
		err = serveHTTP(*addr)
	case "sink":
		err = serveTCP(*addr, sink)
	case "udp":
		err = serveUDP(*addr)
	case "push":
		err = push(*to, *n)
	case "get":
		err = get(*url)
	case "source":
		err = serveTCP(*addr, func(c net.Conn) {
			buf := make([]byte, 256<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		})
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	log.Fatal(err)
}

func serveHTTP(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, wire.Body) })
	mux.HandleFunc("GET /remote", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.RemoteAddr) })
	log.Printf("probe http listening on %s", addr)
	return http.ListenAndServe(addr, mux)
}

// serveUDP answers each datagram with the address it came from, so that a test can see whether
// the published port kept the client's address.
func serveUDP(addr string) error {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	log.Printf("probe udp listening on %s", addr)
	buf := make([]byte, 2048)
	for {
		_, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		if _, err := c.WriteTo([]byte(from.String()), from); err != nil {
			log.Printf("answer %s: %v", from, err)
		}
	}
}

// sink reads c to EOF and answers how many bytes arrived, so the sender can verify them.
func sink(c net.Conn) {
	n, _ := io.Copy(io.Discard, c)
	fmt.Fprintf(c, "%d\n", n)
}

// push sends n zero bytes to addr, half-closes, and prints the peer's reply.
func push(addr string, n int64) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.CopyN(c, zeros{}, n); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	reply, err := io.ReadAll(c)
	fmt.Printf("%s", reply)
	if err == nil {
		os.Exit(0)
	}
	return err
}

// get prints the body of GET url. It exits 1 with the error on failure, so a caller can tell
// "unreachable" from a crash.
func get(url string) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	_, err = io.Copy(os.Stdout, resp.Body)
	if err == nil {
		os.Exit(0)
	}
	return err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func serveTCP(addr string, handle func(net.Conn)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("probe listening on %s", addr)
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}
