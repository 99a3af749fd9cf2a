package capture

import "time"

// AudioMarkerScanner finds audio markers in a stream of PCM chunks, e.g.
// what a receiver plays out, without the caller keeping history. Offsets in
// the markers it returns count samples since the first chunk written.
type AudioMarkerScanner struct {
	rate int
	geom amGeom
	now  func() time.Time
	buf  []int16
	base int64 // stream index of buf[0]
	last int64 // stream offset of the last marker reported, -1 none
}

// NewAudioMarkerScanner scans mono PCM at sampleRate.
func NewAudioMarkerScanner(sampleRate int) (*AudioMarkerScanner, error) {
	g, err := newAMGeom(sampleRate)
	if err != nil {
		return nil, err
	}
	return &AudioMarkerScanner{rate: sampleRate, geom: g, now: time.Now, last: -1}, nil
}

// Write adds a chunk and returns the markers completed by it. Work is
// batched: the buffer is analysed once it holds two marker lengths, then
// trimmed to the last marker length (where a marker may still be arriving),
// so each sample is analysed about twice.
func (s *AudioMarkerScanner) Write(pcm []int16) []AudioMarker {
	s.buf = append(s.buf, pcm...)
	l := s.geom.Len()
	if len(s.buf) < 2*l {
		return nil
	}
	return s.scan(l)
}

// Flush analyses whatever is buffered (end of stream).
func (s *AudioMarkerScanner) Flush() []AudioMarker {
	return s.scan(0)
}

func (s *AudioMarkerScanner) scan(keep int) []AudioMarker {
	found, _ := readAudioMarkersAt(s.buf, s.rate, s.now())
	var out []AudioMarker
	for _, m := range found {
		abs := s.base + int64(m.Offset)
		// A marker at the very end of the kept tail is seen twice.
		if s.last >= 0 && abs < s.last+int64(s.geom.Len()/2) {
			continue
		}
		s.last = abs
		m.Offset = int(abs)
		out = append(out, m)
	}
	drop := max(0, len(s.buf)-keep)
	s.base += int64(drop)
	s.buf = append(s.buf[:0], s.buf[drop:]...)
	return out
}
