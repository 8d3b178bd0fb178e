// Command setuptool is dockerd-rootless-setuptool.sh built on the rootlessd SDK (package
// rootless/setup): it sets up, checks and removes a rootless Docker daemon for the user who
// runs it.
//
//	setuptool [OPTIONS] COMMAND
//
//	check        Check prerequisites
//	install      Install the systemd unit (if systemd is available) and the CLI context
//	uninstall    Uninstall the systemd unit and the CLI context
//	nsenter      Enter the daemon's namespaces (mostly for debugging)
//	rm [PATH]    Remove the daemon's data root (files of subordinate ids included)
//
// The unit runs examples/launcher, found next to this program (or named with --launcher), so
// the two are installed side by side. Options as in Docker's tool: -f/--force ignores a
// rootful Docker, --skip-iptables ignores a missing iptables (and passes --iptables=false).
// And beyond it: --dry-run prints every file it would write (the full unit) and every command
// it would run, without doing anything or checking prerequisites; --update replaces installed
// files that differ (without it they are shown as a diff and left alone); --net, --mtu,
// --port-driver, --rootlesskit-flags, --dockerd-flags and --env go into the unit's drop-in.
//
// The output has the [INFO] lines (stdout) and [WARNING]/[ERROR] lines (stderr) of Docker's
// tool. Exit status:
//
//	0  done (check: requirements satisfied; warnings may have been printed)
//	1  an action failed (a systemctl, a file, the context); what was done is printed
//	2  usage error
//	3  missing requirements (check and install), with the fix for each
//	4  install found installed files that differ; nothing was changed (rerun with --update)
//
// nsenter exits with the status of the command it ran.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/rootless"
	"github.com/rootlessd/rootlessd/rootless/setup"
)

// Exit statuses.
const (
	exitOK           = 0
	exitFailed       = 1
	exitUsage        = 2
	exitRequirements = 3
	exitDrift        = 4
)

func main() {
	rootless.Init() // rm removes data from inside a user namespace: this executable is its helper
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	u, err := setup.CurrentUser()
	if err != nil {
		fmt.Fprintln(os.Stderr, "[ERROR]", err)
		os.Exit(exitFailed)
	}
	code := run(ctx, os.Args[1:], u, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: %[1]s [OPTIONS] COMMAND

A setup tool for Rootless Docker, built on the rootlessd SDK.

Documentation: https://docs.docker.com/go/rootless/

Options:
  -f, --force                Ignore rootful Docker (/var/run/docker.sock)
      --skip-iptables        Ignore missing iptables
      --dry-run              Print every file and command, change nothing
      --update               Replace installed files that differ
      --launcher PATH        The launcher the unit runs (default: launcher next to %[1]s)
      --path DIRS            Directories to find dockerd & co in, before $PATH (colon-separated)
      --systemd auto|yes|no  Whether to install a systemd unit (default: auto, detected)
      --net NAME             Network driver (slirp4netns, pasta, vpnkit, lxc-user-nic, gvisor-tap-vsock)
      --mtu N                MTU
      --port-driver NAME     Port driver (builtin, slirp4netns, implicit, pesto, gvisor-tap-vsock)
      --rootlesskit-flags F  Extra RootlessKit flags (DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS)
      --dockerd-flags F      Extra dockerd flags
      --env KEY=VALUE        Another variable for the daemon (repeatable)
      --remove-data          uninstall: also remove the data root
      --root DIR             Read and write files under DIR (to prepare an image); runs no command

Commands:
  check        Check prerequisites
  nsenter      Enter into RootlessKit namespaces (mostly for debugging)
  install      Install systemd unit (if systemd is available) and show how to manage the service
  uninstall    Uninstall systemd unit
  rm [PATH]    Remove the data root (default: the daemon's)

Exit status: 0 done, 1 failed, 2 usage, 3 missing requirements, 4 installed files differ.
`

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// tool is one run of the command.
type tool struct {
	stdout, stderr io.Writer
	arg0           string
	user           setup.User
	noCommands     bool // --root: the files are another tree's, so no command may run here
}

func (t *tool) info(format string, args ...any) {
	fmt.Fprintf(t.stdout, "[INFO] "+format+"\n", args...)
}
func (t *tool) warn(format string, args ...any) {
	fmt.Fprintf(t.stderr, "[WARNING] "+format+"\n", args...)
}
func (t *tool) fail(format string, args ...any) {
	fmt.Fprintf(t.stderr, "[ERROR] "+format+"\n", args...)
}

func run(ctx context.Context, args []string, u setup.User, stdout, stderr io.Writer) int {
	t := &tool{stdout: stdout, stderr: stderr, arg0: "setuptool", user: u}
	fs := flag.NewFlagSet(t.arg0, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		force, skipIptables, dryRun, update, removeData bool
		launcher, path, systemd, net, portDriver, root  string
		rkFlags, dockerdFlags                           string
		mtu                                             int
		env                                             listFlag
	)
	fs.BoolVar(&force, "f", false, "")
	fs.BoolVar(&force, "force", false, "")
	fs.BoolVar(&skipIptables, "skip-iptables", false, "")
	fs.BoolVar(&dryRun, "dry-run", false, "")
	fs.BoolVar(&update, "update", false, "")
	fs.BoolVar(&removeData, "remove-data", false, "")
	fs.StringVar(&launcher, "launcher", "", "")
	fs.StringVar(&path, "path", "", "")
	fs.StringVar(&systemd, "systemd", "auto", "")
	fs.StringVar(&net, "net", "", "")
	fs.IntVar(&mtu, "mtu", 0, "")
	fs.StringVar(&portDriver, "port-driver", "", "")
	fs.StringVar(&rkFlags, "rootlesskit-flags", "", "")
	fs.StringVar(&dockerdFlags, "dockerd-flags", "", "")
	fs.Var(&env, "env", "")
	fs.StringVar(&root, "root", "", "")

	// Options may come before or after the command, as with GNU getopt; everything after
	// nsenter or rm is theirs.
	var cmd string
	var rest []string
	for remaining := args; ; {
		if err := fs.Parse(remaining); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stdout, usage, t.arg0)
				return exitOK
			}
			fmt.Fprintf(stderr, usage, t.arg0)
			t.fail("%v", err)
			return exitUsage
		}
		remaining = fs.Args()
		if len(remaining) == 0 {
			break
		}
		if cmd == "" {
			cmd, remaining = remaining[0], remaining[1:]
			if cmd == "nsenter" || cmd == "rm" {
				rest = remaining
				break
			}
			continue
		}
		rest, remaining = append(rest, remaining[0]), remaining[1:]
	}
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	if cmd == "" {
		t.fail("No command was specified. Run with --help to see the usage. Maybe you want to run `%s install`?", t.arg0)
		return exitUsage
	}

	opts := []setup.Option{setup.WithUser(u), setup.WithForce(force), setup.WithSkipIptables(skipIptables),
		setup.WithUpdate(update), setup.WithRemoveData(removeData)}
	switch systemd {
	case "auto":
	case "yes", "no":
		opts = append(opts, setup.WithSystemd(systemd == "yes"))
	default:
		t.fail("--systemd %q: want auto, yes or no", systemd)
		return exitUsage
	}
	if path != "" {
		opts = append(opts, setup.WithSearchPath(filepath.SplitList(path)...))
	}
	if root != "" {
		opts = append(opts, setup.WithRoot(root))
		t.noCommands = true
	}
	opts = append(opts, setup.WithSettings(setup.Settings{Net: net, MTU: mtu, PortDriver: portDriver,
		RootlessKitFlags: strings.Fields(rkFlags), DockerdFlags: strings.Fields(dockerdFlags), Env: env}))

	switch cmd {
	case "check":
		if len(rest) > 0 {
			return t.usageError("check takes no arguments")
		}
		return t.check(ctx, opts)
	case "install":
		if len(rest) > 0 {
			return t.usageError("install takes no arguments")
		}
		l, err := t.launcher(launcher)
		if err != nil {
			t.fail("%v", err)
			return exitRequirements
		}
		return t.install(ctx, append(opts, setup.WithLauncher(l)), dryRun)
	case "uninstall":
		if len(rest) > 0 {
			return t.usageError("uninstall takes no arguments")
		}
		return t.uninstall(ctx, opts, dryRun)
	case "nsenter":
		return t.nsenter(ctx, rest)
	case "rm":
		if len(rest) > 1 {
			return t.usageError("rm takes at most one path")
		}
		p := ""
		if len(rest) == 1 {
			p = rest[0]
		}
		return t.rm(ctx, opts, p, dryRun)
	}
	t.fail("Unknown command: %s. Run with --help to see the usage.", cmd)
	return exitUsage
}

func (t *tool) usageError(msg string) int {
	t.fail("%s. Run with --help to see the usage.", msg)
	return exitUsage
}

// launcher finds the launcher: the flag, else "launcher" next to this program.
func (t *tool) launcher(flagValue string) (string, error) {
	if flagValue != "" {
		if !filepath.IsAbs(flagValue) {
			return "", fmt.Errorf("--launcher %q is not an absolute path", flagValue)
		}
		return flagValue, nil
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return "", fmt.Errorf("cannot find this program's own path (%v): pass --launcher", err)
	}
	l := filepath.Join(filepath.Dir(self), "launcher")
	if st, err := os.Stat(l); err != nil || st.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("launcher not found next to %s (%s): build it there (go build -o %s ./examples/launcher) or pass --launcher PATH",
			filepath.Base(self), l, filepath.Dir(self))
	}
	return l, nil
}

// problem is one finding, from this package's Check or from rootless.Check.
type problem struct {
	id, detail, fix string
	severity        diag.Severity
}

func problems(err error) []problem {
	var out []problem
	var walk func(error)
	walk = func(e error) {
		switch e := e.(type) {
		case nil:
		case *diag.Finding:
			out = append(out, problem{string(e.ID), e.Detail, e.Fix, e.Severity})
		case interface{ Unwrap() []error }:
			for _, c := range e.Unwrap() {
				walk(c)
			}
		default:
			out = append(out, problem{"error", e.Error(), rootless.Remedy(e), diag.Error})
		}
	}
	walk(err)
	return out
}

// report prints the problems of a check and returns whether any blocks.
func (t *tool) report(err error) (blocking bool) {
	for _, p := range problems(err) {
		print := t.fail
		switch p.severity {
		case diag.Warning:
			print = t.warn
		case diag.Info:
			print = t.info
		}
		print("%s: %s", p.id, p.detail)
		for _, l := range strings.Split(p.fix, "\n") {
			if l != "" {
				print("  fix: %s", l)
			}
		}
		blocking = blocking || p.severity == diag.Error
	}
	return blocking
}

func (t *tool) check(ctx context.Context, opts []setup.Option) int {
	if t.report(setup.Check(ctx, opts...)) {
		t.fail("Missing system requirements. Run the commands above to install the requirements and run this tool again.")
		return exitRequirements
	}
	t.info("Requirements are satisfied")
	return exitOK
}

func (t *tool) install(ctx context.Context, opts []setup.Option, dryRun bool) int {
	p, err := setup.Install(ctx, opts...)
	if err != nil {
		t.report(err)
		if _, ok := errors.AsType[*diag.Finding](err); ok {
			return exitRequirements
		}
		return exitFailed
	}
	if dryRun {
		_, _ = p.WriteTo(t.stdout)
		fmt.Fprintln(t.stdout, "# prerequisites were not checked: run `setuptool check`")
		if len(p.Drift) > 0 && !p.Update {
			return exitDrift
		}
		return exitOK
	}
	if t.report(setup.Check(ctx, opts...)) {
		t.fail("Missing system requirements. Run the commands above to install the requirements and run this tool again.")
		return exitRequirements
	}
	if code := t.apply(ctx, p); code != exitOK {
		return code
	}
	if p.Manual != nil {
		for _, n := range p.Notes {
			t.note(n)
		}
		fmt.Fprintf(t.stdout, "\n%s\n\n", p.Manual)
	} else {
		t.info("Installed %s successfully.", setup.DefaultUnit)
		for _, n := range p.Notes {
			t.note(n)
		}
	}
	var path, other []string
	for _, l := range p.Exports() {
		if strings.HasPrefix(l, "export DOCKER_HOST=") {
			other = append(other, l)
		} else {
			path = append(path, l)
		}
	}
	if len(path) > 0 {
		fmt.Fprintln(t.stdout)
		t.info("Make sure the following environment variable(s) are set (or add them to ~/.bashrc):")
		for _, l := range path {
			fmt.Fprintln(t.stdout, l)
		}
	}
	fmt.Fprintln(t.stdout)
	t.info("Some applications may require the following environment variable too:")
	for _, l := range other {
		fmt.Fprintln(t.stdout, l)
	}
	fmt.Fprintln(t.stdout)
	return exitOK
}

func (t *tool) note(n setup.Note) {
	if n.Severity >= diag.Warning {
		t.warn("%s", n.Text)
	} else {
		t.info("%s", n.Text)
	}
}

// apply applies p, printing each step as Docker's tool does.
func (t *tool) apply(ctx context.Context, p *setup.Plan) int {
	if t.noCommands && (len(p.Drift) == 0 || p.Update) {
		for _, a := range p.Actions {
			if _, ok := a.(*setup.Command); ok {
				t.fail("with --root, %q would run on this host, not in the tree: use --dry-run, or --systemd=no", a)
				return exitUsage
			}
		}
	}
	err := p.Apply(ctx, func(a setup.Action, err error) {
		switch a := a.(type) {
		case *setup.WriteFile:
			if err == nil {
				t.info("Created %s", a.Path)
			}
		case *setup.CreateContext:
			if err == nil {
				t.info("Created CLI context %q", a.Name)
			}
		case *setup.UseContext:
			if err == nil && a.Name != "default" { // uninstall's notes say so
				t.info("Using CLI context %q", a.Name)
			}
		case *setup.RemoveContext: // uninstall's notes say so
		case *setup.RemoveFile:
			if err == nil {
				t.info("Removed %s", a.Path)
			}
		default:
			if err == nil {
				t.info("%s", a)
			}
		}
		if c, ok := a.(*setup.Command); ok && err != nil && c.MayFail {
			t.warn("%v", err)
		}
	})
	if err == nil {
		return exitOK
	}
	if de, ok := errors.AsType[*setup.DriftError](err); ok {
		for _, d := range de.Drift {
			t.fail("%s differs from what install would write:", d.Path)
			fmt.Fprint(t.stderr, d.Diff)
		}
		t.fail("Nothing was changed. Review the differences, then run again with --update to replace them.")
		return exitDrift
	}
	t.fail("%v", err)
	if ce, ok := errors.AsType[*setup.CommandError](err); ok && ce.Hint != "" {
		t.fail("%s", ce.Hint)
	}
	return exitFailed
}

func (t *tool) uninstall(ctx context.Context, opts []setup.Option, dryRun bool) int {
	p, err := setup.Uninstall(ctx, opts...)
	if err != nil {
		t.report(err)
		return exitFailed
	}
	if dryRun {
		_, _ = p.WriteTo(t.stdout)
		return exitOK
	}
	if code := t.apply(ctx, p); code != exitOK {
		return code
	}
	for _, n := range p.Notes {
		t.note(n)
	}
	return exitOK
}

func (t *tool) rm(ctx context.Context, opts []setup.Option, path string, dryRun bool) int {
	if path != "" && !filepath.IsAbs(path) {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	p, err := setup.RemoveDataRoot(ctx, path, opts...)
	if err != nil {
		t.fail("%v", err)
		return exitUsage
	}
	if dryRun {
		_, _ = p.WriteTo(t.stdout)
		return exitOK
	}
	return t.apply(ctx, p)
}

func (t *tool) nsenter(ctx context.Context, argv []string) int {
	if len(argv) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		argv = []string{sh}
	}
	cmd, err := setup.Enter(ctx, setup.RootlessKitStateDir(t.user), argv...)
	if err != nil {
		t.report(err)
		return exitFailed
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, t.stdout, t.stderr
	err = cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.fail("%v", err)
		return exitFailed
	}
	return exitOK
}
