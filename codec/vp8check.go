package codec

import "fmt"

// VP8FrameCheck checks the uncompressed header of a VP8 frame (RFC 6386
// section 9.1) without decoding it: the frame tag, the version, the size of
// the first partition and, for keyframes, the start code 9d 01 2a and the
// picture size. It is pure Go and works in the CGO-free build. width and
// height are 0 for interframes, which do not carry them.
func VP8FrameCheck(frame []byte) (keyframe bool, width, height int, err error) {
	if len(frame) < 3 {
		return false, 0, 0, fmt.Errorf("frame of %d bytes: %w", len(frame), ErrMalformedFrame)
	}
	tag := uint32(frame[0]) | uint32(frame[1])<<8 | uint32(frame[2])<<16
	keyframe = tag&1 == 0
	version := (tag >> 1) & 7
	firstPart := int(tag >> 5)
	hdr := 3
	if keyframe {
		hdr = 10
	}
	if version > 3 {
		return false, 0, 0, fmt.Errorf("version %d: %w", version, ErrMalformedFrame)
	}
	if len(frame) < hdr {
		return false, 0, 0, fmt.Errorf("frame of %d bytes: %w", len(frame), ErrMalformedFrame)
	}
	if firstPart == 0 || firstPart > len(frame)-hdr {
		return false, 0, 0, fmt.Errorf("first partition %d of %d bytes: %w", firstPart, len(frame)-hdr, ErrMalformedFrame)
	}
	if !keyframe {
		return false, 0, 0, nil
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return false, 0, 0, fmt.Errorf("bad start code: %w", ErrMalformedFrame)
	}
	width = int(uint16(frame[6])|uint16(frame[7])<<8) & 0x3fff
	height = int(uint16(frame[8])|uint16(frame[9])<<8) & 0x3fff
	if width == 0 || height == 0 {
		return false, 0, 0, fmt.Errorf("size %dx%d: %w", width, height, ErrMalformedFrame)
	}
	return true, width, height, nil
}
