package setup

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// ActivatorUnits are the units that start a rootless daemon on the first connection under
// systemd: a socket unit that listens on the Docker socket (ListenStream=) and the service it
// starts, which must serve that socket with rootless.Activator over rootless.SystemdListeners
// (sd_listen_fds), e.g. `devtool serve` (examples/devtool). The launcher's service (Type=notify)
// is not such a program.
type ActivatorUnits struct {
	Socket  []byte // NAME.socket
	Service []byte // NAME.service
}

// SocketActivation renders the units named name (e.g. "docker-activated") for an activator
// program exec (an absolute path, with its arguments) that serves socket (an absolute path of
// at most 107 bytes; %t for the user's runtime directory is allowed, as in any unit). The
// socket is the user's alone (SocketMode=0600). The service gets the same PATH as the
// launcher's (path), stops its daemon on SIGTERM and is not restarted by systemd: the next
// connection starts it.
func SocketActivation(name, socket, path string, exec ...string) (*ActivatorUnits, error) {
	var errs []error
	if name == "" || strings.ContainsAny(name, "/ ") || strings.HasSuffix(name, ".service") || strings.HasSuffix(name, ".socket") {
		errs = append(errs, fmt.Errorf("unit name %q: want a bare name such as docker-activated", name))
	}
	if !filepath.IsAbs(socket) && !strings.HasPrefix(socket, "%t/") {
		errs = append(errs, fmt.Errorf("socket %q is not absolute (or %%t/...)", socket))
	}
	if len(socket) > 107 {
		errs = append(errs, fmt.Errorf("socket %q is longer than the 107 bytes a unix socket path may have", socket))
	}
	if len(exec) == 0 || !filepath.IsAbs(exec[0]) {
		errs = append(errs, fmt.Errorf("activator program %q is not an absolute path", exec))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("setup: socket activation: %w", err)
	}
	o := unit.NewUnitOption
	sock := []*unit.UnitOption{
		o("Unit", "Description", "Docker API socket (Rootless, daemon started on the first connection)"),
		o("Unit", "Documentation", "https://docs.docker.com/go/rootless/"),
		o("Socket", "ListenStream", socket),
		o("Socket", "SocketMode", "0600"),
		o("Socket", "DirectoryMode", "0700"),
		o("Socket", "Service", name+".service"),
		o("Install", "WantedBy", "sockets.target"),
	}
	var args []string
	for _, a := range exec {
		args = append(args, execArg(a))
	}
	svc := []*unit.UnitOption{
		o("Unit", "Description", "Docker Application Container Engine (Rootless, started on the first connection)"),
		o("Unit", "Documentation", "https://docs.docker.com/go/rootless/"),
		o("Unit", "Requires", name+".socket"),
		o("Unit", "After", name+".socket"),
		o("Service", "Environment", envAssignment("PATH="+path)),
		o("Service", "ExecStart", strings.Join(args, " ")),
		o("Service", "TimeoutStopSec", "30"),
		o("Service", "LimitNOFILE", "infinity"),
		o("Service", "LimitNPROC", "infinity"),
		o("Service", "LimitCORE", "infinity"),
		o("Service", "TasksMax", "infinity"),
		o("Service", "Delegate", "yes"),
		o("Service", "KillMode", "mixed"),
	}
	header := "# Written by rootlessd's setup (github.com/rootlessd/rootlessd/rootless/setup): socket activation.\n"
	return &ActivatorUnits{Socket: renderUnit(header, sock, "Socket"), Service: renderUnit(header, svc, "Service")}, nil
}
