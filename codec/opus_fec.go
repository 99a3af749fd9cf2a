package codec

// OpusHasFEC reports whether an Opus packet carries in-band FEC (SILK LBRR
// data) for the frame before it. Only SILK and hybrid packets can; the LBRR
// flag of each channel follows its per-frame VAD flags at the very start of
// the first frame's range-coded data, where bits of probability 1/2 appear
// as plain bits (the same test libwebrtc uses). Malformed packets report false.
func OpusHasFEC(pkt []byte) bool {
	if len(pkt) < 2 {
		return false
	}
	toc := pkt[0]
	config := toc >> 3
	if config >= 16 { // CELT-only
		return false
	}
	var ms int
	if config < 12 { // SILK: 10, 20, 40, 60 ms
		ms = []int{10, 20, 40, 60}[config&3]
	} else { // hybrid: 10, 20 ms
		ms = []int{10, 20}[config&1]
	}
	silkFrames := max(1, ms/20)
	channels := int(toc>>2&1) + 1

	start, size := 1, len(pkt)-1
	switch toc & 3 {
	case 1: // two frames of equal size
		size /= 2
	case 2: // two frames, the first one's size coded
		n, sz := opusFrameSize(pkt[1:])
		if n == 0 {
			return false
		}
		start, size = 1+n, sz
	case 3: // arbitrary frame count, optional padding and VBR sizes
		if len(pkt) < 3 {
			return false
		}
		count, vbr, pad := int(pkt[1]&0x3f), pkt[1]&0x80 != 0, pkt[1]&0x40 != 0
		if count == 0 {
			return false
		}
		i := 2
		padding := 0
		for pad {
			if i >= len(pkt) {
				return false
			}
			b := int(pkt[i])
			i++
			if b == 255 {
				padding += 254
			} else {
				padding += b
				pad = false
			}
		}
		if vbr {
			n, sz := opusFrameSize(pkt[i:])
			if n == 0 {
				return false
			}
			// Skip the other frames' sizes to find where data starts.
			j := i + n
			for k := 2; k < count; k++ {
				m, _ := opusFrameSize(pkt[j:])
				if m == 0 {
					return false
				}
				j += m
			}
			start, size = j, sz
		} else {
			start = i
			size = (len(pkt) - i - padding) / count
		}
	}
	if size <= 1 || start >= len(pkt) {
		return false
	}
	first := pkt[start]
	for ch := range channels {
		if first&(0x80>>((ch+1)*(silkFrames+1)-1)) != 0 {
			return true
		}
	}
	return false
}

// opusFrameSize decodes an Opus frame length (RFC 6716 3.2.1): it returns
// how many bytes the length took (0 if truncated) and the length.
func opusFrameSize(b []byte) (int, int) {
	switch {
	case len(b) == 0:
		return 0, 0
	case b[0] < 252:
		return 1, int(b[0])
	case len(b) < 2:
		return 0, 0
	default:
		return 2, int(b[1])*4 + int(b[0])
	}
}
