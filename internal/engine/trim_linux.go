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
	for _, b := range decoderTables() {
		if pages := wholePages(b); len(pages) > 0 {
			_ = unix.Madvise(pages, unix.MADV_DONTNEED)
		}
	}
}

// wholePages is the part of b made of whole pages: what madvise and mincore may be given.
func wholePages(b []byte) []byte {
	page := uintptr(unix.Getpagesize())
	skip := (page - uintptr(unsafe.Pointer(unsafe.SliceData(b)))%page) % page
	if uintptr(len(b)) <= skip {
		return nil
	}
	return b[skip : skip+(uintptr(len(b))-skip)&^(page-1)]
}
