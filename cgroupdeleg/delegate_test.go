package cgroupdeleg_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rootlessd/rootlessd/cgroupdeleg"
)

func TestParseDelegate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values []string
		want   string // Delegate.String()
		ctrls  []string
		all    bool
		inv    []string
	}{
		{name: "nothing", want: "no"},
		{name: "user@.service 252+", values: []string{"pids memory cpu"}, want: "cpu memory pids", ctrls: []string{"cpu", "memory", "pids"}},
		{name: "lists accumulate (C9)", values: []string{"pids memory", "cpu cpuset io memory pids"},
			want: "cpu cpuset io memory pids", ctrls: []string{"cpu", "cpuset", "io", "memory", "pids"}},
		{name: "empty resets but stays on (C9)", values: []string{"pids memory", "", "cpu"}, want: "cpu", ctrls: []string{"cpu"}},
		{name: "empty alone", values: []string{""}, want: "yes, no controllers"},
		{name: "yes means all", values: []string{"pids", "yes"}, want: "yes", all: true},
		{name: "a list after yes keeps all", values: []string{"yes", "cpu"}, want: "yes", all: true},
		{name: "no turns off", values: []string{"cpu memory", "no"}, want: "no"},
		{name: "on again after no", values: []string{"no", "memory"}, want: "memory", ctrls: []string{"memory"}},
		{name: "boolean spellings", values: []string{"TRUE"}, want: "yes", all: true},
		{name: "off", values: []string{"yes", "off"}, want: "no"},
		{name: "1 and 0", values: []string{"1", "0"}, want: "no"},
		{name: "hugetlb is rejected (C10)", values: []string{"cpu cpuset hugetlb"}, want: "cpu cpuset",
			ctrls: []string{"cpu", "cpuset"}, inv: []string{"hugetlb"}},
		{name: "invalid names only still turn it on", values: []string{"rdma"}, want: "yes, no controllers", inv: []string{"rdma"}},
		{name: "quotes", values: []string{`"cpu" 'memory' p"id"s`}, want: "cpu memory pids", ctrls: []string{"cpu", "memory", "pids"}},
		{name: "quoted space is one name", values: []string{`"cpu memory"`}, want: "yes, no controllers", inv: []string{"cpu memory"}},
		{name: "unbalanced quote ignores the line", values: []string{"memory", `cpu "io`}, want: "memory",
			ctrls: []string{"memory"}, inv: []string{`cpu "io`}},
		{name: "duplicates and order", values: []string{"pids pids cpu", "cpu"}, want: "cpu pids", ctrls: []string{"cpu", "pids"}},
		{name: "surrounding whitespace", values: []string{"  \tmemory  "}, want: "memory", ctrls: []string{"memory"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := cgroupdeleg.ParseDelegate(tt.values...)
			if got := d.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if !slices.Equal(d.Controllers, tt.ctrls) || d.All != tt.all || !slices.Equal(d.Invalid, tt.inv) {
				t.Errorf("got %+v, want Controllers %q All %v Invalid %q", d, tt.ctrls, tt.all, tt.inv)
			}
		})
	}
}

func TestDelegateHas(t *testing.T) {
	d := cgroupdeleg.ParseDelegate("yes")
	if !d.Has("cpuset") || d.Has("hugetlb") {
		t.Errorf("Delegate=yes: Has(cpuset)=%v Has(hugetlb)=%v, want true false", d.Has("cpuset"), d.Has("hugetlb"))
	}
	d = cgroupdeleg.ParseDelegate("memory")
	if !d.Has("memory") || d.Has("cpu") {
		t.Errorf("Delegate=memory: Has(memory)=%v Has(cpu)=%v", d.Has("memory"), d.Has("cpu"))
	}
	if cgroupdeleg.ParseDelegate("memory", "no").Has("memory") {
		t.Error("Delegate=no still has memory")
	}
}

func TestParseUnit(t *testing.T) {
	const unit = `# comment with Delegate=yes
; another comment \
  continued, still a comment: Delegate=no
[Unit]
Description=Delegate=not this one

[Service]
Delegate=pids memory
  Delegate = cpu
ExecStart=/bin/true \
  Delegate=in-a-value
Delegate=memory \
    pids
Delegate=

[Install]
Delegate=not-a-service-option
`
	as, err := cgroupdeleg.ParseUnit("/etc/x.conf", strings.NewReader(unit))
	if err != nil {
		t.Fatal(err)
	}
	want := []cgroupdeleg.Assignment{
		{File: "/etc/x.conf", Line: 8, Value: "pids memory"},
		{File: "/etc/x.conf", Line: 9, Value: "cpu"},
		{File: "/etc/x.conf", Line: 12, Value: "memory pids"},
		{File: "/etc/x.conf", Line: 14, Value: ""},
	}
	if !slices.Equal(as, want) {
		t.Errorf("ParseUnit =\n%q\nwant\n%q", as, want)
	}
	if got := as[0].String(); got != "/etc/x.conf:8: Delegate=pids memory" {
		t.Errorf("String() = %q", got)
	}
}

func TestParseUnitCRLF(t *testing.T) {
	as, err := cgroupdeleg.ParseUnit("x", strings.NewReader("[Service]\r\nDelegate=cpu\r\n\r\nDelegate=io\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []cgroupdeleg.Assignment{{File: "x", Line: 2, Value: "cpu"}, {File: "x", Line: 4, Value: "io"}}
	if !slices.Equal(as, want) {
		t.Errorf("got %q, want %q", as, want)
	}
}

func TestParseUnitErrors(t *testing.T) {
	for name, in := range map[string]string{
		"no =":            "[Service]\nDelegate\n",
		"unclosed [":      "[Service\n",
		"garbage after ]": "[Service] x\n",
		"line too long":   "[Service]\nDelegate=" + strings.Repeat("cpu ", 1000) + "\n",
	} {
		if _, err := cgroupdeleg.ParseUnit("f", strings.NewReader(in)); err == nil || !strings.HasPrefix(err.Error(), "cgroupdeleg: parse f: ") {
			t.Errorf("%s: error = %v, want a \"cgroupdeleg: parse f: \" error", name, err)
		}
	}
}

func TestDropIn(t *testing.T) {
	p, body, err := cgroupdeleg.DropIn()
	if err != nil {
		t.Fatal(err)
	}
	if p != "/etc/systemd/system/user@.service.d/delegate.conf" {
		t.Errorf("path = %q", p)
	}
	golden(t, "delegate.conf", string(body))

	// The body parses back to the controllers, in systemd's order.
	_, body, err = cgroupdeleg.DropIn("pids", "io", "memory", "io")
	if err != nil {
		t.Fatal(err)
	}
	as, err := cgroupdeleg.ParseUnit(p, strings.NewReader(string(body)))
	if err != nil || len(as) != 1 || as[0].Value != "io memory pids" {
		t.Errorf("DropIn(pids io memory io) parses as %q, %v; want Delegate=io memory pids", as, err)
	}

	if _, _, err := cgroupdeleg.DropIn("cpu", "hugetlb"); err == nil || !strings.Contains(err.Error(), "cannot delegate hugetlb") {
		t.Errorf("DropIn(hugetlb) error = %v", err)
	}
}
