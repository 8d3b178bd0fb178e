package idmap

import (
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want []Range
		total    uint64
	}{
		{nil, nil, 0},
		{[]Range{{5, 0}}, nil, 0},
		{[]Range{{200, 10}, {100, 10}}, []Range{{100, 10}, {200, 10}}, 20},
		{[]Range{{100, 10}, {100, 10}}, []Range{{100, 10}}, 10},
		{[]Range{{100, 10}, {105, 10}}, []Range{{100, 15}}, 15},
		{[]Range{{100, 10}, {110, 10}}, []Range{{100, 20}}, 20},
		{[]Range{{0, MaxID}, {1, MaxID}}, []Range{{0, MaxID}, {MaxID, 1}}, 1 << 32},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Normalize(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if got := Total(tt.in); got != tt.total {
			t.Errorf("Total(%v) = %d, want %d", tt.in, got, tt.total)
		}
	}
}

func TestRange(t *testing.T) {
	r := Range{4294967295, 1}
	if r.End() != 1<<32 || r.Valid() || !r.Contains(4294967295) || r.Contains(0) {
		t.Errorf("%v: End %d Valid %v", r, r.End(), r.Valid())
	}
	if (Range{1, 0}).Valid() || !(Range{0, MaxID}).Valid() {
		t.Error("Valid wrong")
	}
	if (Range{1, 0}).Overlaps(Range{0, 5}) || !(Range{0, 5}).Overlaps(Range{4, 1}) || (Range{0, 5}).Overlaps(Range{5, 1}) {
		t.Error("Overlaps wrong")
	}
	if r.String() != "4294967295:1" || (Range{100000, 65536}).span() != "100000-165535" {
		t.Error("formatting wrong")
	}
}

func TestFreeRange(t *testing.T) {
	tests := []struct {
		used []Range
		want Range
		ok   bool
	}{
		{nil, Range{100000, 65536}, true},
		{[]Range{{100000, 65536}}, Range{165536, 65536}, true},
		{[]Range{{150000, 10}}, Range{150010, 65536}, true},
		{[]Range{{200000, 10}}, Range{100000, 65536}, true},
		{[]Range{{165535, 1}, {1000, 1}}, Range{165536, 65536}, true},
		{[]Range{{100000, 600000001}}, Range{600100001, 65536}, true}, // past SUB_UID_MAX
		{[]Range{{0, MaxID}}, Range{}, false},
	}
	for _, tt := range tests {
		got, ok := FreeRange(65536, tt.used)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FreeRange(%v) = %v, %v, want %v, %v", tt.used, got, ok, tt.want, tt.ok)
		}
		for _, u := range tt.used {
			if ok && got.Overlaps(u) {
				t.Errorf("FreeRange(%v) = %v overlaps %v", tt.used, got, u)
			}
		}
	}
	if _, ok := FreeRange(0, nil); ok {
		t.Error("FreeRange(0) ok")
	}
}
