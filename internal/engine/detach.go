package engine

import "sync"

// detachState is what a detached or adopted Process has beyond a started one.
type detachState struct {
	release     chan struct{} // closed by Release: stop following the log
	releaseOnce sync.Once
	pidfd       interface{ Close() error } // an adopted tree's pidfd, closed by Abandon
}
