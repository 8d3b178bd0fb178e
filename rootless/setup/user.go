package setup

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// User is the account a daemon is set up for: who it is, and the session environment that
// decides where its files go (XDG_CONFIG_HOME, XDG_RUNTIME_DIR, XDG_DATA_HOME, DOCKER_CONFIG,
// PATH, DOCKER_HOST, DOCKER_CONTEXT).
type User struct {
	Name string // login name, as loginctl and /var/lib/systemd/linger know it
	UID  int
	Home string // absolute
	// Env is the session's environment, in the form of os.Environ. Only the variables above
	// are read.
	Env []string
}

// CurrentUser is the user this process runs as, with this process's environment. HOME wins
// over the passwd entry, as in a shell.
func CurrentUser() (User, error) {
	u, err := user.Current()
	if err != nil {
		return User{}, fmt.Errorf("setup: current user: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return User{}, fmt.Errorf("setup: current user: uid %q: %w", u.Uid, err)
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = u.HomeDir
	}
	return User{Name: u.Username, UID: uid, Home: home, Env: os.Environ()}, nil
}

// getenv returns the last value of key in u.Env, as a shell would see it.
func (u User) getenv(key string) string {
	for i := len(u.Env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(u.Env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// xdg returns the XDG base directory in key, or home/fallback when it is unset or relative
// (the XDG specification says relative values are to be ignored).
func (u User) xdg(key, fallback string) string {
	if v := u.getenv(key); filepath.IsAbs(v) {
		return filepath.Clean(v)
	}
	return filepath.Join(u.Home, fallback)
}

func (u User) validate() error {
	switch {
	case u.Name == "":
		return fmt.Errorf("setup: user has no name")
	case u.UID < 0:
		return fmt.Errorf("setup: user %s: negative uid %d", u.Name, u.UID)
	case !filepath.IsAbs(u.Home):
		return fmt.Errorf("setup: user %s: home directory %q is not absolute (set HOME)", u.Name, u.Home)
	}
	return nil
}
