package setup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
	dcontext "github.com/docker/cli/cli/context"
	"github.com/docker/cli/cli/context/store"
	"github.com/moby/sys/atomicwriter"
)

// The docker CLI's context store is written with the CLI's own library
// (github.com/docker/cli/cli/context/store), so that its layout and validation are the CLI's:
// DOCKER_CONFIG/contexts/meta/<sha256 of the name>/meta.json. The current context lives in
// DOCKER_CONFIG/config.json, which belongs to the CLI's configfile package; that package pulls
// in the credential helpers, so the one key is edited here by hand, keeping every other key.

const dockerEndpoint = "docker" // the CLI's docker.DockerEndpoint

// contextMeta is the CLI's context metadata (command.DockerContext) as it is stored.
type contextMeta struct {
	Description string `json:",omitempty"`
}

func contextStore(dockerConfig string) *store.ContextStore {
	return store.New(filepath.Join(dockerConfig, "contexts"), store.NewConfig(
		func() any { return &contextMeta{} },
		store.EndpointTypeGetter(dockerEndpoint, func() any { return &dcontext.EndpointMetaBase{} }),
	))
}

// contextMetadata is what the store keeps for a docker context with host.
func contextMetadata(name, host, description string) store.Metadata {
	return store.Metadata{
		Name:      name,
		Metadata:  contextMeta{Description: description},
		Endpoints: map[string]any{dockerEndpoint: dcontext.EndpointMetaBase{Host: host}},
	}
}

// contextJSON is the meta.json the store writes for m (it marshals the value as it is).
func contextJSON(m store.Metadata) []byte {
	b, _ := json.Marshal(&m)
	return b
}

// existingContext reads context name from the store under dockerConfig; ok is false when it
// does not exist.
func existingContext(dockerConfig, name string) (m store.Metadata, path string, ok bool, err error) {
	s := contextStore(dockerConfig)
	path = filepath.Join(s.GetStorageInfo(name).MetadataPath, "meta.json")
	m, err = s.GetMetadata(name)
	if errdefs.IsNotFound(err) {
		return m, path, false, nil
	}
	return m, path, err == nil, err
}

func contextHost(m store.Metadata) string {
	if ep, ok := m.Endpoints[dockerEndpoint].(dcontext.EndpointMetaBase); ok {
		return ep.Host
	}
	return ""
}

// cliConfig is the CLI's config.json, every key kept as it was.
type cliConfig map[string]json.RawMessage

func readCLIConfig(path string) (cliConfig, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cliConfig{}, nil
	}
	if err != nil {
		return nil, err
	}
	var c cliConfig
	if len(bytes.TrimSpace(b)) == 0 {
		return cliConfig{}, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("setup: %s is not a JSON object: %w", path, err)
	}
	if c == nil {
		c = cliConfig{}
	}
	return c, nil
}

// currentContext is the config's currentContext; "" means default.
func (c cliConfig) currentContext() string {
	var s string
	_ = json.Unmarshal(c["currentContext"], &s)
	return s
}

// withCurrentContext returns config.json's new content with currentContext set to name
// ("default" removes the key, as `docker context use default` does).
func (c cliConfig) withCurrentContext(name string) []byte {
	n := make(cliConfig, len(c)+1)
	for k, v := range c {
		n[k] = v
	}
	if name == "" || name == "default" {
		delete(n, "currentContext")
	} else {
		n["currentContext"], _ = json.Marshal(name)
	}
	b, _ := json.MarshalIndent(n, "", "\t")
	return append(b, '\n')
}

// writeCLIConfig writes config.json atomically with the CLI's mode (0600).
func writeCLIConfig(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicwriter.WriteFile(path, data, 0o600)
}
