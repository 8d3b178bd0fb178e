package idmap

// This file decodes numbers the way shadow-utils does: a2ul() on top of
// strtoumax(3) in the C locale, with negative values rejected and any
// trailing character an error.

type numFlag uint8

const (
	numSpace numFlag = 1 << iota // leading whitespace (skipped by strtoumax)
	numSign                      // a '+' sign, or "-0"
	numHex                       // 0x prefix
	numOctal                     // leading zero that changes the value
)

type numErr uint8

const (
	numOK       numErr = iota
	numNoDigits        // nothing strtoumax can read
	numNegative        // a minus sign on a non-zero value
	numBinary          // 0b prefix: only glibc >= 2.38 reads it
	numTrailing        // characters after the number
	numRange           // above the limit, or above 2^64-1
)

// isCSpace reports whether c is isspace() in the C locale.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func digitVal(c byte) uint64 {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0')
	case 'a' <= c && c <= 'z':
		return uint64(c-'a') + 10
	case 'A' <= c && c <= 'Z':
		return uint64(c-'A') + 10
	}
	return 99
}

// fastDecimal decodes a plain decimal number without sign, spaces or leading
// zeros, of at most 10 digits: what nearly every line holds.
func fastDecimal(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 10 || s[0] < '1' || s[0] > '9' {
		return 0, s == "0"
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseNum decodes s as shadow's a2ul(..., base, 0, limit) would. base is 0
// (prefixes select 16 or 8) or 10. On numTrailing, junk is the rest of s.
func parseNum(s string, base uint64, limit uint64) (v uint64, flags numFlag, e numErr, junk string) {
	if v, ok := fastDecimal(s); ok {
		if v > limit {
			return v, 0, numRange, ""
		}
		return v, 0, numOK, ""
	}
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	if i > 0 {
		flags |= numSpace
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		flags |= numSign
		i++
	}
	if base == 0 {
		base = 10
		if i < len(s) && s[i] == '0' {
			base = 8
			if i+2 < len(s) && s[i+1]|0x20 == 'x' && digitVal(s[i+2]) < 16 {
				base = 16
				i += 2
				flags |= numHex
			} else if i+2 < len(s) && s[i+1]|0x20 == 'b' && (s[i+2] == '0' || s[i+2] == '1') {
				return 0, flags, numBinary, ""
			}
		}
	}
	first := i
	overflow := false
	for i < len(s) {
		d := digitVal(s[i])
		if d >= base {
			break
		}
		if v > (^uint64(0)-d)/base {
			overflow = true
		}
		v = v*base + d
		i++
	}
	switch {
	case i == first:
		return 0, flags, numNoDigits, ""
	case neg && (v != 0 || overflow):
		return 0, flags, numNegative, ""
	case i < len(s):
		return v, flags, numTrailing, s[i:]
	case overflow || v > limit:
		return v, flags, numRange, ""
	}
	if base == 8 && i-first > 1 {
		// A leading zero: harmless unless the decimal reading differs.
		var dec uint64
		for _, c := range []byte(s[first:i]) {
			dec = dec*10 + uint64(c-'0')
		}
		if dec != v {
			flags |= numOctal
		}
	}
	if neg {
		flags |= numSign
	}
	return v, flags, numOK, ""
}
