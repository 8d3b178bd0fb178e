//go:build linux

package engine

import (
	"unsafe"

	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"
)

// decoderTables are gopacket/layers' two 65,536-entry enum tables and their error decoders:
// 6 MiB of memory that its package init fills in every process of a program that links it
// (gvisor-tap-vsock's switch does, to print frames when its debug mode is on). An engine role
// is a whole process of ours, and nothing it runs reads them: RootlessKit never turns that
// debug mode on, and no other code uses gopacket.
func decoderTables() [][]byte {
	return [][]byte{
		bytesOf(&layers.EthernetTypeMetadata),
		bytesOf(&layers.PPPTypeMetadata),
	}
}

func bytesOf[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

// releaseDecoderTables hands the pages that lie wholly inside gopacket's decoder tables back to
// the kernel (madvise MADV_DONTNEED): each role process then holds 5 MiB less. The tables read
// as zeroes afterwards, so this is only for a role process, never the host program, whose
// other code might decode packets. The error decoders the tables point at (1 MiB more) are
// unexported, and stay.
func releaseDecoderTables() {
	page := uintptr(unix.Getpagesize())
	for _, b := range decoderTables() {
		start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		skip := (page - start%page) % page
		n := (uintptr(len(b)) - skip) &^ (page - 1)
		if uintptr(len(b)) <= skip || n == 0 {
			continue
		}
		_ = unix.Madvise(b[skip:skip+n], unix.MADV_DONTNEED)
	}
}
