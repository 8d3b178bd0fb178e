package idmap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseGetsubids(t *testing.T) {
	tests := []struct {
		file  string
		want  []Range
		codes []string
		err   string
	}{
		{"two-ranges.txt", []Range{{100000, 65536}, {300000, 65536}}, nil, ""},
		{"extra-column.txt", []Range{{100000, 65536}}, []string{"getsubids-columns"}, ""},
		{"missing-column.txt", nil, nil, "getsubids alice:1: 2 columns"},
		{"negative.txt", nil, nil, `getsubids alice:1: start "100000" and count "-5" must be ids`},
		{"no-colon.txt", nil, nil, "getsubids alice:1: no colon"},
		{"too-big.txt", nil, nil, `getsubids alice:1: start "100000" and count "4294967296" must be ids`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/getsubids", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			rs, diags, err := ParseGetsubids("getsubids alice", strings.NewReader(string(data)))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(rs, tt.want) || !slices.Equal(codes(diags), tt.codes) {
				t.Errorf("= %v %v %v, want %v %q", rs, diags, err, tt.want, tt.codes)
			}
		})
	}
}
