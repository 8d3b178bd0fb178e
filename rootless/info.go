package rootless

import (
	"encoding/json"
	"maps"
)

// Info describes a running daemon: the Plan it was started from, and what the daemon
// confirmed.
type Info struct {
	Plan
	// FellBack: the embedded engine was denied a user namespace and EngineAuto fell back to the
	// installed rootlesskit (Plan.Engine is then EngineExternal).
	FellBack bool `json:"fell_back"`
	// ChildPID is RootlessKit's child, the namespaces' init, as the host sees it.
	ChildPID int `json:"child_pid"`
	// Confirmed by the daemon itself (GET /info), which also confirmed rootless mode
	// (name=rootless among its security options) before Launch returned.
	ServerVersion string `json:"server_version"`
	StorageDriver string `json:"storage_driver"`
	CgroupDriver  string `json:"cgroup_driver"` // "none" on cgroup v1 or without systemd: resource limits are ignored
}

// MarshalJSON writes the plan's fields and the confirmed ones side by side.
func (i Info) MarshalJSON() ([]byte, error) {
	b, err := i.Plan.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	type confirmed struct {
		FellBack      bool   `json:"fell_back"`
		ChildPID      int    `json:"child_pid"`
		ServerVersion string `json:"server_version"`
		StorageDriver string `json:"storage_driver"`
		CgroupDriver  string `json:"cgroup_driver"`
	}
	cb, _ := json.Marshal(confirmed{i.FellBack, i.ChildPID, i.ServerVersion, i.StorageDriver, i.CgroupDriver})
	var cm map[string]json.RawMessage
	_ = json.Unmarshal(cb, &cm)
	maps.Copy(m, cm)
	return json.Marshal(m)
}
