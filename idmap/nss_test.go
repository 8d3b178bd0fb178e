package idmap

import (
	"slices"
	"strings"
	"testing"
)

func TestParseNSSwitch(t *testing.T) {
	tests := []struct {
		name, in string
		module   string
		line     int
		codes    []string
	}{
		{"none", "passwd: files\ngroup: files\n", "files", 0, nil},
		{"empty file", "", "files", 0, nil},
		{"sss", "passwd: files sss\nsubid: sss\n", "sss", 2, nil},
		{"case and tabs", "SubID:\t  files\n", "files", 1, nil},
		{"first word only", "subid: sss files\n", "sss", 1, nil},
		{"commented", "#subid: sss\nsubid: files\n", "files", 2, nil},
		{"indented is not read", "  subid: sss\n", "files", 0, nil},
		{"empty value skipped", "subid:\nsubid:   \nsubid: sss\n", "sss", 3, nil},
		{"first wins", "subid: sss\nsubid: files\n", "sss", 1, nil},
		{"no space after colon", "subid:sss\n", "sss", 1, nil},
		{"crlf", "subid: sss\r\n", "files", 1, []string{"not-subid-module"}},
		{"too long", "subid: " + strings.Repeat("x", 51) + "\n", "files", 1, []string{"not-subid-module"}},
		{"no final newline", "passwd: files\nsubid: sss", "sss", 2, []string{"not-subid-module"}},
		{"nul before", "passwd: \x00\nsubid: sss\n", "files", 0, []string{"not-subid-module"}},
		{"after the match is not read", "subid: sss\n\x00", "sss", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseNSSwitch("/etc/nsswitch.conf", strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if n.Module != tt.module || n.Line != tt.line || !slices.Equal(codes(n.Diags), tt.codes) {
				t.Errorf("= %q line %d %v, want %q line %d %q", n.Module, n.Line, n.Diags, tt.module, tt.line, tt.codes)
			}
			if n.Files() != (tt.module == "files") {
				t.Errorf("Files() = %v", n.Files())
			}
		})
	}
}
