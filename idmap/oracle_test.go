package idmap

// This file holds RootlessKit v3.3.0's own code, adapted only to take a
// reader and plain values, as an oracle for differential tests. The
// originals are pkg/parent/idtools/idtools.go (parseSubidFile) and
// pkg/parent/parent.go (withoutSelfID, newugidmapArgsFromSubIDRanges) of
// github.com/rootless-containers/rootlesskit, Apache License 2.0.

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

type rkSubIDRange struct {
	Start  int
	Length int
}

func rkParseSubidFile(r io.Reader, path string, uid int, username string) ([]rkSubIDRange, error) {
	uidS := strconv.Itoa(uid)
	var rangeList []rkSubIDRange
	s := bufio.NewScanner(r)
	for s.Scan() {
		text := strings.TrimSpace(s.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.Split(text, ":")
		if len(parts) != 3 {
			return rangeList, fmt.Errorf("cannot parse subuid/gid information: Format not correct for %s file", path)
		}
		if parts[0] == uidS || (username != "" && parts[0] == username) {
			startid, err := strconv.Atoi(parts[1])
			if err != nil {
				return rangeList, fmt.Errorf("string to int conversion failed during subuid/gid parsing of %s: %v", path, err)
			}
			length, err := strconv.Atoi(parts[2])
			if err != nil {
				return rangeList, fmt.Errorf("string to int conversion failed during subuid/gid parsing of %s: %v", path, err)
			}
			rangeList = append(rangeList, rkSubIDRange{startid, length})
		}
	}
	return rangeList, s.Err()
}

func rkWithoutSelfID(ranges []rkSubIDRange, id int) (res, removed []rkSubIDRange) {
	for _, f := range ranges {
		if id < f.Start || id >= f.Start+f.Length {
			res = append(res, f)
			continue
		}
		removed = append(removed, f)
		if head := id - f.Start; head > 0 {
			res = append(res, rkSubIDRange{Start: f.Start, Length: head})
		}
		if tail := f.Start + f.Length - (id + 1); tail > 0 {
			res = append(res, rkSubIDRange{Start: id + 1, Length: tail})
		}
	}
	return res, removed
}

// rkMapArgs is the uid half of newugidmapArgsFromSubIDRanges (the gid half
// is the same code with the gid).
func rkMapArgs(self int, ranges []rkSubIDRange) []string {
	m := []string{"0", strconv.Itoa(self), "1"}
	ranges, _ = rkWithoutSelfID(ranges, self)
	last := 1
	for _, f := range ranges {
		m = append(m, strconv.Itoa(last), strconv.Itoa(f.Start), strconv.Itoa(f.Length))
		last += f.Length
	}
	return m
}

func rkWithoutDuplicates(sliceList []rkSubIDRange) []rkSubIDRange {
	seenKeys := make(map[rkSubIDRange]bool)
	var list []rkSubIDRange
	for _, item := range sliceList {
		if _, value := seenKeys[item]; !value {
			seenKeys[item] = true
			list = append(list, item)
		}
	}
	return list
}
