//go:build linux

package main

// missedWhy explains, per metric, why a target is missed on the test bed and what would close
// it; the report prints it under a missed target.
var missedWhy = map[string]string{}

// speedups is the report's closing section: what rootlessd does to be fast.
const speedups = `## What makes rootlessd fast

(see the commit history of internal/bench for the measurements of each change)
`
