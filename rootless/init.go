package rootless

import "github.com/rootlessd/rootlessd/internal/engine"

// Init must be the first statement of main in every program that launches a daemon (and of
// TestMain in its tests):
//
//	func main() {
//		rootless.Init()
//		// flag parsing and everything else comes after
//	}
//
// Both engines re-run the program's own executable inside the namespaces: the embedded engine
// as RootlessKit's parent, as its child, and as the step that prepares the namespace and execs
// dockerd; the external engine (an installed rootlesskit) for that last step. In those
// processes Init does that work and never returns; in the program itself it returns at once. It
// must run before any flag parsing or CLI framework sees the arguments, and before the program
// starts goroutines or servers of its own. Launch, Resolve and RemoveAll report ErrNoInit if
// Init was not called. Off Linux it does nothing.
func Init() { engine.Init() }
