// Command doctor checks this host for rootless Docker, the way Launch would run it, and says
// what is wrong, why, and the exact commands that fix it, before anything starts. It is
// rootless.Check with a readable report: errors (the daemon will not start or work until they
// are fixed), warnings (a feature is lost or degraded) and notes, each with its evidence and
// fix, and what Docker will do here: the engine and drivers with their reasons, the storage
// driver and the cgroup driver with the docker run flags it will ignore.
//
// Usage:
//
//	doctor [-json] [-engine auto|embedded|external] [-path DIR]... [-dockerd PATH] [-rootlesskit PATH]
//	       [-network NAME] [-state-dir DIR] [-data-root DIR] [-config FILE]
//	doctor -explain 'ERROR TEXT'   (or -explain - to read it from stdin)
//
// With -json it writes {"findings":[{"id","severity","detail","evidence","fix"}],"plan":{...},
// "docker":{...},"distro":{...}}. Colours are used on a terminal only, and never when NO_COLOR
// is set. The exit status is 0 when no finding is an error, 1 when one is (or -explain knows
// no cause), and 2 when the check could not run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rootlessd/rootlessd/netdriver"
	"github.com/rootlessd/rootlessd/rootless"
)

func main() {
	rootless.Init() // first: the embedded engine re-runs this executable
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// pathList is a repeatable -path flag.
type pathList []string

func (p *pathList) String() string     { return strings.Join(*p, ":") }
func (p *pathList) Set(s string) error { *p = append(*p, s); return nil }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fl.SetOutput(stderr)
	asJSON := fl.Bool("json", false, "write the report as JSON")
	engine := fl.String("engine", "auto", "engine: auto, embedded or external")
	var paths pathList
	fl.Var(&paths, "path", "a directory searched first for dockerd, containerd, runc, rootlesskit and the network programs (repeatable)")
	dockerd := fl.String("dockerd", "", "the dockerd binary")
	rootlesskit := fl.String("rootlesskit", "", "the rootlesskit binary of the external engine")
	network := fl.String("network", "", "the network driver (slirp4netns, pasta, vpnkit, lxc-user-nic, gvisor-tap-vsock); default: the first that works")
	stateDir := fl.String("state-dir", "", "the state directory (default: $XDG_RUNTIME_DIR/rootlessd)")
	dataRoot := fl.String("data-root", "", "dockerd's data root (default: ~/.local/share/docker)")
	config := fl.String("config", "", "the daemon.json dockerd reads (default: ~/.config/docker/daemon.json)")
	explain := fl.String("explain", "", "print the cause and fix of an error message (- reads it from stdin) and exit")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "doctor: unexpected argument %q\n", fl.Arg(0))
		return 2
	}
	color := useColor(stdout)
	if *explain != "" {
		return explainText(*explain, stdin, stdout, stderr, color)
	}
	opts := []rootless.Option{rootless.WithBinaries(rootless.Binaries{Dockerd: *dockerd, RootlessKit: *rootlesskit, Path: paths})}
	switch *engine {
	case "auto":
	case "embedded":
		opts = append(opts, rootless.WithEngine(rootless.EngineEmbedded))
	case "external":
		opts = append(opts, rootless.WithEngine(rootless.EngineExternal))
	default:
		fmt.Fprintf(stderr, "doctor: -engine %q: want auto, embedded or external\n", *engine)
		return 2
	}
	if *network != "" {
		d, err := netdriver.Named(*network)
		if err != nil {
			fmt.Fprintf(stderr, "doctor: -network: %v\n", err)
			return 2
		}
		opts = append(opts, rootless.WithNetwork(d))
	}
	for _, o := range []struct {
		value string
		opt   func(string) rootless.Option
	}{{*stateDir, rootless.WithStateDir}, {*dataRoot, rootless.WithDataRoot}, {*config, rootless.WithDaemonConfig}} {
		if o.value != "" {
			opts = append(opts, o.opt(o.value))
		}
	}
	rep, err := rootless.Check(context.Background(), opts...)
	if err != nil {
		fmt.Fprintf(stderr, "doctor: the check could not run: %v\n", err)
		return 2
	}
	if *asJSON {
		if err := writeJSON(stdout, rep); err != nil {
			fmt.Fprintf(stderr, "doctor: %v\n", err)
			return 2
		}
	} else {
		writeText(stdout, rep, color)
	}
	if rep.Err() != nil {
		return 1
	}
	return 0
}

func explainText(text string, stdin io.Reader, stdout, stderr io.Writer, color bool) int {
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			fmt.Fprintf(stderr, "doctor: %v\n", err)
			return 2
		}
		text = string(b)
	}
	cause, fix := rootless.Diagnose(text)
	if cause == "" {
		fmt.Fprintln(stdout, "doctor: no known cause for this message; run doctor without -explain to check the host")
		return 1
	}
	p := painter(color)
	fmt.Fprintf(stdout, "%s %s\n%s %s\n", p(bold, "cause:"), cause, p(bold, "fix:  "), fix)
	return 0
}

// jsonFinding is a finding as -json writes it.
type jsonFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Detail   string `json:"detail"`
	Evidence string `json:"evidence"`
	Fix      string `json:"fix"`
}

// writeJSON writes the report: the findings with exactly the fields of the documented shape,
// the plan (without its own copy of the warnings), what Docker will do, and the distribution.
func writeJSON(w io.Writer, rep *rootless.Report) error {
	findings := make([]jsonFinding, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		findings = append(findings, jsonFinding{string(f.ID), f.Severity.String(), f.Detail, f.Evidence, f.Fix})
	}
	var plan map[string]json.RawMessage
	if rep.Plan != nil {
		b, err := json.Marshal(rep.Plan)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &plan); err != nil {
			return err
		}
		delete(plan, "findings")
	}
	out := struct {
		Findings []jsonFinding              `json:"findings"`
		Plan     map[string]json.RawMessage `json:"plan"`
		Docker   rootless.Outlook           `json:"docker"`
		Distro   rootless.Distro            `json:"distro"`
	}{findings, plan, rep.Docker, rep.Distro}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // fixes are shell: keep <, > and & readable
	return enc.Encode(out)
}
