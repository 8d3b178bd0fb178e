package rootless

import (
	"time"
)

// WithIdleStop makes an [Activator] stop its daemon after d without API activity (no
// connection open through the activator's socket, none closed within d) and without a running
// container; the activator then goes back to waiting on its socket, and the next connection
// starts the daemon again (images, volumes and stopped containers are kept in the data root).
// It applies to Activator only; Launch ignores it. d must be positive. Default: never stop.
func WithIdleStop(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return optionError("WithIdleStop", "%v is not a positive duration", d)
		}
		c.idleStop = d
		return nil
	})
}
