package setup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/sys/atomicwriter"

	"github.com/rootlessd/rootlessd/diag"
	"github.com/rootlessd/rootlessd/rootless"
)

// Plan is what Install, Uninstall or a remedy will do, as values: every file it writes or
// removes and every command it runs, in order. Nothing has happened yet; [Plan.Apply] does it,
// and [Plan.WriteTo] prints it (a dry run).
type Plan struct {
	// Actions are done in order by Apply.
	Actions []Action
	// Drift lists installed files (and the CLI context) that differ from what would be
	// written. Unless Update is set, Apply refuses to change anything while there is drift.
	Drift []Drift
	// Update is set by WithUpdate: Actions replace what drifted.
	Update bool
	// Notes are what the user should know: linger, how to run the daemon without systemd,
	// what to export. Apply does not print them.
	Notes []Note
	// Manual is how to run the daemon by hand when there is no systemd; nil otherwise.
	Manual *Manual
	// Env is what to export in the user's shell (KEY=VALUE): DOCKER_HOST, and PATH when the
	// programs live outside the user's PATH (PATH values end in ":$PATH").
	Env []string
	// Root is set for plans only root can apply (sysctls, file capabilities). Apply refuses
	// them to other users; Script renders them for sudo.
	Root bool

	env *applyEnv
}

// Note is a line to show the user.
type Note struct {
	Severity diag.Severity // diag.Info or diag.Warning
	Text     string
}

// Manual is a command line that runs the daemon by hand.
type Manual struct {
	Env  []string // KEY=VALUE, set for the command only
	Argv []string
}

// String renders m as one shell command line: VAR=value ... launcher args.
func (m *Manual) String() string {
	var w []string
	for _, kv := range m.Env {
		k, v, _ := strings.Cut(kv, "=")
		w = append(w, k+"="+shellQuote(v))
	}
	return strings.Join(append(w, shellJoin(m.Argv)), " ")
}

// applyEnv is how a plan touches the host: through a file tree root and a Runner.
type applyEnv struct {
	root   string
	runner Runner
	user   User
}

func (e *applyEnv) path(p string) string { return filepath.Join(e.root, p) }

// An Action is one step of a plan. The concrete types are WriteFile, RemoveFile, MakeDir,
// Command, CreateContext, UseContext, RemoveContext, RemoveData and PingAPI.
type Action interface {
	// String describes the action in one line: the command a person would type, or what is
	// written where.
	String() string
	apply(ctx context.Context, e *applyEnv) error
}

// WriteFile writes a file atomically, creating its directory (0755) as needed.
type WriteFile struct {
	Path string
	Mode fs.FileMode
	Data []byte
}

func (a *WriteFile) String() string {
	return fmt.Sprintf("write %s (mode %04o)", a.Path, a.Mode.Perm())
}

func (a *WriteFile) apply(_ context.Context, e *applyEnv) error {
	p := e.path(a.Path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicwriter.WriteFile(p, a.Data, a.Mode.Perm())
}

// RemoveFile removes a file, or an empty directory; one that is already gone is fine.
type RemoveFile struct {
	Path string
}

func (a *RemoveFile) String() string { return "remove " + a.Path }

func (a *RemoveFile) apply(_ context.Context, e *applyEnv) error {
	err := os.Remove(e.path(a.Path))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// MakeDir creates a directory and its parents.
type MakeDir struct {
	Path string
	Mode fs.FileMode
}

func (a *MakeDir) String() string { return fmt.Sprintf("mkdir -p -m %04o %s", a.Mode.Perm(), a.Path) }

func (a *MakeDir) apply(_ context.Context, e *applyEnv) error {
	p := e.path(a.Path)
	if err := os.MkdirAll(p, a.Mode.Perm()); err != nil {
		return err
	}
	return os.Chmod(p, a.Mode.Perm())
}

// Command runs a program through the plan's Runner.
type Command struct {
	Argv []string
	// MayFail marks a command whose failure does not stop the plan (stopping a service that
	// is not running); Apply reports the failure and goes on.
	MayFail bool
	// Hint is what to do when it fails, e.g. the journalctl line that shows why.
	Hint string
	// Timeout bounds the command; 0 means none. `systemctl --user start` of a Type=notify
	// unit waits for READY=1, and Docker's unit (TimeoutSec=0) lets systemd wait forever.
	Timeout time.Duration
}

func (a *Command) String() string { return shellJoin(a.Argv) }

func (a *Command) apply(ctx context.Context, e *applyEnv) error {
	if a.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.Timeout)
		defer cancel()
	}
	out, err := e.runner.Run(ctx, a.Argv)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %v (the service may still be starting): %w", a.Timeout, ctx.Err())
	}
	if err != nil {
		return &CommandError{Argv: a.Argv, Output: strings.TrimSpace(string(out)), Err: err, Hint: a.Hint}
	}
	return nil
}

// CreateContext creates (or replaces) a docker CLI context with a docker endpoint, in the
// context store under DockerConfig.
type CreateContext struct {
	DockerConfig string
	Name         string
	Host         string
	Description  string
}

func (a *CreateContext) String() string {
	return fmt.Sprintf("docker context create %s --docker host=%s --description %s (in %s/contexts)",
		a.Name, a.Host, shellQuote(a.Description), a.DockerConfig)
}

// metaPath is the file the store writes, as the plan shows it.
func (a *CreateContext) metaPath() string {
	return filepath.Join(contextStore(a.DockerConfig).GetStorageInfo(a.Name).MetadataPath, "meta.json")
}

func (a *CreateContext) apply(_ context.Context, e *applyEnv) error {
	err := contextStore(e.path(a.DockerConfig)).CreateOrUpdate(contextMetadata(a.Name, a.Host, a.Description))
	if err != nil {
		return fmt.Errorf("setup: create docker context %s: %w", a.Name, err)
	}
	return nil
}

// UseContext makes a context the CLI's current one (config.json's currentContext); "default"
// removes the key. Every other key of config.json is kept.
type UseContext struct {
	DockerConfig string
	Name         string
}

func (a *UseContext) String() string {
	return fmt.Sprintf("docker context use %s (sets currentContext in %s; its other keys, credentials among them, are kept)", a.Name, a.configPath())
}

func (a *UseContext) configPath() string { return filepath.Join(a.DockerConfig, "config.json") }

func (a *UseContext) apply(_ context.Context, e *applyEnv) error {
	p := e.path(a.configPath())
	c, err := readCLIConfig(p)
	if err != nil {
		return err
	}
	return writeCLIConfig(p, c.withCurrentContext(a.Name))
}

// RemoveContext removes a docker CLI context and its TLS material.
type RemoveContext struct {
	DockerConfig string
	Name         string
}

func (a *RemoveContext) String() string {
	return fmt.Sprintf("docker context rm -f %s (in %s/contexts)", a.Name, a.DockerConfig)
}

func (a *RemoveContext) apply(_ context.Context, e *applyEnv) error {
	if err := contextStore(e.path(a.DockerConfig)).Remove(a.Name); err != nil {
		return fmt.Errorf("setup: remove docker context %s: %w", a.Name, err)
	}
	return nil
}

// RemoveData removes the daemon's data root with rootless.RemoveAll, which also removes files
// owned by subordinate ids (the program must call rootless.Init first). It refuses while a
// daemon answers on Socket.
type RemoveData struct {
	Path   string
	Socket string
}

func (a *RemoveData) String() string { return "rootless.RemoveAll " + a.Path + " (rootlesskit rm -rf)" }

func (a *RemoveData) apply(ctx context.Context, e *applyEnv) error {
	if a.Socket != "" && pingSocket(ctx, e.path(a.Socket)) == nil {
		return fmt.Errorf("setup: a daemon still answers on %s: stop it before removing its data root %s", a.Socket, a.Path)
	}
	if _, err := os.Lstat(e.path(a.Path)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	opts := []rootless.Option{}
	if len(e.user.Env) > 0 {
		opts = append(opts, rootless.WithEnviron(e.user.Env)) // the user's session decides where its state goes
	}
	if rd := e.user.getenv("XDG_RUNTIME_DIR"); rd == "" {
		// RemoveAll needs a private directory for its namespace's state.
		opts = append(opts, rootless.WithStateDir(filepath.Join(e.user.Home, ".docker", "run")))
	}
	if err := rootless.RemoveAll(ctx, e.path(a.Path), opts...); err != nil {
		return fmt.Errorf("setup: remove data root %s: %w (without subordinate ids any more, only root can remove it: sudo rm -rf %s)",
			a.Path, err, shellQuote(a.Path))
	}
	return nil
}

// PingAPI checks that the Docker API answers on Socket: after `systemctl --user start`, which
// returns once the launcher reported READY=1, it confirms that the socket the CLI context
// names is the daemon's.
type PingAPI struct {
	Socket string
	Hint   string
}

func (a *PingAPI) String() string { return "GET /_ping on unix://" + a.Socket }

func (a *PingAPI) apply(ctx context.Context, e *applyEnv) error {
	if err := pingSocket(ctx, e.path(a.Socket)); err != nil {
		return &CommandError{Argv: []string{"GET", "unix://" + a.Socket + "/_ping"}, Err: err, Hint: a.Hint}
	}
	return nil
}

func pingSocket(ctx context.Context, sock string) error {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /_ping: %s", resp.Status)
	}
	return nil
}

// ErrDrift is wrapped by the error Apply returns when installed files differ from the plan
// and WithUpdate was not given.
var ErrDrift = errors.New("setup: installed files differ from what would be written")

// DriftError lists what differs.
type DriftError struct {
	Drift []Drift
}

func (e *DriftError) Error() string {
	paths := make([]string, len(e.Drift))
	for i, d := range e.Drift {
		paths[i] = d.Path
	}
	return fmt.Sprintf("%v: %s; nothing was changed (update them with WithUpdate(true), setuptool --update)", ErrDrift, strings.Join(paths, ", "))
}

func (e *DriftError) Unwrap() error { return ErrDrift }

// Remedy says how to go on.
func (e *DriftError) Remedy() string {
	return "review the differences, then run again with --update (WithUpdate(true)) to replace them"
}

// ErrNeedsRoot is wrapped by the error Apply returns for a Root plan run by another user.
var ErrNeedsRoot = errors.New("setup: this plan needs root")

// NeedsRootError carries the script that applies the plan with sudo.
type NeedsRootError struct {
	Script string
}

func (e *NeedsRootError) Error() string  { return ErrNeedsRoot.Error() + "; run:\n" + e.Script }
func (e *NeedsRootError) Unwrap() error  { return ErrNeedsRoot }
func (e *NeedsRootError) Remedy() string { return e.Script }

// ActionError is the action that stopped Apply.
type ActionError struct {
	Action Action
	Done   int // how many actions completed before it
	Err    error
}

func (e *ActionError) Error() string  { return fmt.Sprintf("setup: %s: %v", e.Action, e.Err) }
func (e *ActionError) Unwrap() error  { return e.Err }
func (e *ActionError) Remedy() string { return diag.Remedy(e.Err) }

// Apply does the plan's actions in order. report, if not nil, is called after each one with
// its error: nil, the failure of a MayFail command (Apply goes on), or the error that stops
// Apply, which Apply then returns as an *ActionError. A plan with Drift and no Update changes
// nothing and returns a *DriftError; a Root plan run by another user returns a
// *NeedsRootError with the commands to run.
func (p *Plan) Apply(ctx context.Context, report func(Action, error)) error {
	if len(p.Drift) > 0 && !p.Update {
		return &DriftError{Drift: p.Drift}
	}
	if p.Root && os.Geteuid() != 0 {
		return &NeedsRootError{Script: p.Script()}
	}
	env := p.env
	if env == nil {
		env = &applyEnv{root: "/", runner: ExecRunner{}}
	}
	for i, a := range p.Actions {
		err := a.apply(ctx, env)
		if report != nil {
			report(a, err)
		}
		if err == nil {
			continue
		}
		if c, ok := a.(*Command); ok && c.MayFail && ctx.Err() == nil {
			continue
		}
		return &ActionError{Action: a, Done: i, Err: err}
	}
	return nil
}

// WriteTo prints the plan as a dry run: every action, the full content of every file it
// writes, the drift, the notes, and what to export.
func (p *Plan) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	for _, d := range p.Drift {
		verb := "differs; --update replaces it"
		if p.Update {
			verb = "differs; it will be replaced"
		}
		fmt.Fprintf(&b, "# drift: %s %s:\n", d.Path, verb)
		b.WriteString(d.Diff)
		b.WriteString("\n")
	}
	for _, a := range p.Actions {
		fmt.Fprintf(&b, "# %s\n", a)
		switch a := a.(type) {
		case *WriteFile:
			b.Write(a.Data)
			if len(a.Data) > 0 && a.Data[len(a.Data)-1] != '\n' {
				b.WriteByte('\n')
			}
			b.WriteString("\n")
		case *CreateContext:
			fmt.Fprintf(&b, "# writes %s:\n%s\n\n", a.metaPath(), contextJSON(contextMetadata(a.Name, a.Host, a.Description)))
		}
	}
	if len(p.Drift) > 0 && !p.Update {
		b.WriteString("# (with drift and without --update, applying this plan changes nothing)\n")
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "# %s: %s\n", n.Severity, strings.ReplaceAll(n.Text, "\n", "\n#   "))
	}
	if p.Manual != nil {
		fmt.Fprintf(&b, "# run by hand:\n%s\n", p.Manual)
	}
	for _, l := range p.Exports() {
		fmt.Fprintln(&b, l)
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// String is WriteTo's output.
func (p *Plan) String() string {
	var b strings.Builder
	_, _ = p.WriteTo(&b)
	return b.String()
}

// Exports renders Env as shell lines: export KEY=VALUE, quoted where needed.
func (p *Plan) Exports() []string {
	out := make([]string, len(p.Env))
	for i, kv := range p.Env {
		out[i] = "export " + exportValue(kv)
	}
	return out
}

// exportValue renders KEY=VALUE for an export line; a PATH that ends in :$PATH keeps it
// unquoted so that the shell expands it.
func exportValue(kv string) string {
	k, v, _ := strings.Cut(kv, "=")
	if rest, ok := strings.CutSuffix(v, ":$PATH"); ok {
		return k + "=" + shellQuote(rest) + ":$PATH"
	}
	return k + "=" + shellQuote(v)
}

// Script renders the plan as a shell script for `sudo sh -eux`, in the form Docker's tool
// prints its remedies: each file write as a here-document, each command as is.
func (p *Plan) Script() string {
	var b strings.Builder
	b.WriteString("sudo sh -eux <<'EOF'\n")
	for _, a := range p.Actions {
		switch a := a.(type) {
		case *WriteFile:
			fmt.Fprintf(&b, "mkdir -p %s\ncat > %s <<'END'\n%sEND\nchmod %04o %s\n",
				shellQuote(filepath.Dir(a.Path)), shellQuote(a.Path), a.Data, a.Mode.Perm(), shellQuote(a.Path))
		case *RemoveFile:
			fmt.Fprintf(&b, "rm -f %s\n", shellQuote(a.Path))
		case *MakeDir:
			fmt.Fprintf(&b, "mkdir -p -m %04o %s\n", a.Mode.Perm(), shellQuote(a.Path))
		case *Command:
			b.WriteString(shellJoin(a.Argv))
			if a.MayFail {
				b.WriteString(" || true")
			}
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "# %s\n", a)
		}
	}
	b.WriteString("EOF\n")
	return b.String()
}
