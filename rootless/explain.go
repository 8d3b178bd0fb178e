package rootless

import (
	"fmt"
	"strings"
)

// explain is the cause and fix of a failure shown in the daemon's retained log lines. It
// refines diagnose where the log alone cannot say enough: a full file system is named by the
// daemon directory on it (data root, exec root, state directory) and its free space, which
// free reports (ok false when it cannot).
func explain(lines []string, paths Paths, free func(dir string) (avail, total uint64, ok bool)) (cause, fix string) {
	cause, fix = diagnose(lines)
	if cause != diskFull.cause {
		return cause, fix
	}
	dirs := []struct{ kind, dir, option string }{
		{"data root", paths.DataRoot, "WithDataRoot"},
		{"exec root", paths.ExecRoot, "WithExecRoot"},
		{"state directory", paths.StateDir, "WithStateDir"},
	}
	at := func(i int) (string, string) {
		d := dirs[i]
		space := ""
		if avail, total, ok := free(d.dir); ok {
			space = fmt.Sprintf(" (%s of %s free)", byteSize(avail), byteSize(total))
		}
		return fmt.Sprintf("the %s %s is on a full file system%s", d.kind, d.dir, space),
			fmt.Sprintf("free space on it (df -h %s), or choose a %s on a larger file system (%s)", d.dir, d.kind, d.option)
	}
	// The path in the newest complaint says which directory; the longest match wins (the
	// exec root is usually inside the state directory).
	for i := len(lines) - 1; i >= 0; i-- {
		if !containsAll(lines[i], diskFull.all) || strings.Contains(lines[i], "fork/exec") {
			continue
		}
		best, bestLen := -1, 0
		for j, d := range dirs {
			if d.dir != "" && len(d.dir) > bestLen && mentions(lines[i], d.dir) {
				best, bestLen = j, len(d.dir)
			}
		}
		if best >= 0 {
			return at(best)
		}
		break
	}
	for i, d := range dirs { // no path in the message: the directory whose file system is full
		if avail, _, ok := free(d.dir); ok && avail == 0 {
			return at(i)
		}
	}
	return cause, fix
}

// mentions reports whether line names dir or a path below it.
func mentions(line, dir string) bool {
	for rest := line; ; {
		i := strings.Index(rest, dir)
		if i < 0 {
			return false
		}
		end := rest[i+len(dir):]
		if end == "" || strings.ContainsAny(end[:1], "/\"' :)") {
			return true
		}
		rest = end
	}
}

// byteSize formats n bytes for people: 0 B, 512 KiB, 2.0 MiB, 71 GiB.
func byteSize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 10 {
		return fmt.Sprintf("%.0f %ciB", v, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}
