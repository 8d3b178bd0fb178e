//go:build !unix

package cgroupdeleg

import (
	"errors"
	"fmt"
	"io/fs"
)

func statOwner(fi fs.FileInfo) (int, error) {
	return 0, fmt.Errorf("stat %s: owner: %w", fi.Name(), errors.ErrUnsupported)
}
