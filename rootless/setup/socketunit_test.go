package setup

import (
	"strings"
	"testing"
)

func TestSocketActivationUnits(t *testing.T) {
	u, err := SocketActivation("docker-activated", "%t/docker.sock", "/opt/rootlessd/bin:"+SystemPath,
		"/opt/rootlessd/bin/devtool", "-C", "/home/alice/my project", "-idle", "10m", "serve")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "activation-socket.golden", string(u.Socket))
	golden(t, "activation-service.golden", string(u.Service))
	for _, b := range [][]byte{u.Socket, u.Service} {
		if _, err := parseUnit(b); err != nil {
			t.Errorf("the unit does not parse back: %v\n%s", err, b)
		}
	}
	opts, _ := parseUnit(u.Socket)
	var listen string
	for _, o := range opts {
		if o.Section == "Socket" && o.Name == "ListenStream" {
			listen = o.Value
		}
	}
	if listen != "%t/docker.sock" {
		t.Errorf("ListenStream=%q", listen)
	}

	_, err = SocketActivation("a/b.service", "docker.sock", "", "devtool")
	for _, want := range []string{"unit name", "not absolute", "activator program"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad input: %v, want it to mention %q", err, want)
		}
	}
}
