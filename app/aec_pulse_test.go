package app_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/capture/pulsetest"
)

// aecRate is the rate of every signal here: the call's.
const aecRate = 48000

// What the two ends say: different sentences in different voices, so the
// near end cannot be taken for the echo.
const (
	aecFarText = "The far end is speaking now. Every word it says comes back from the loudspeaker " +
		"into the microphone of the other side, and should not come back to the far end."
	aecNearText = "The near end talks over it, and must still be heard."
)

// TestEchoCancellationOnPulseLoop proves the microphone processing on a
// real sound path: a private PulseAudio daemon whose virtual speaker is
// heard again in its virtual microphone, 80 ms later and 6 dB down (a
// room). Peer B sends espeak-ng speech from a WAV file and records what
// peer A sends back; peer A plays B on the speaker (--speaker default) and
// sends its microphone (--audio mic), which hears B's voice again and, in
// the second half of the call, A's own talker (another voice played into
// the microphone).
//
// The near end's speech ties the timelines together: it is an exact copy
// in A's raw microphone (recorded here) and it is in B's recording with
// the canceller on or off. The echo is measured over the 20 ms frames
// where B's voice is in A's microphone, from 2 s after it starts (the
// canceller converging) until the near end talks.
func TestEchoCancellationOnPulseLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	pulsetest.Need(t, "pulseaudio", "pactl", "pacat", "sox", "espeak-ng")
	bin := buildHeadless(t, true)
	far := pulsetest.Speech(t, aecFarText, aecRate, 1) // peak -3 dBFS
	// B loops the file; a pause between repetitions, as in speech.
	farWAV := writeAECWAV(t, append(far, make([]int16, aecRate*3/10)...))
	near := aecVoice(t, "en+f3", aecNearText, -6) // -24 dBFS rms
	dump := os.Getenv("PEERCALL_SOUND_DUMP")
	echoCall := aecTimeline{call: 10 * time.Second, nearAt: 5500 * time.Millisecond}
	farArgs := []string{"--audio", farWAV}
	aecOnly := []string{"--speaker", "default", "--ns", "off", "--agc", "off"}

	t.Run("echo and double talk", func(t *testing.T) {
		pa := pulsetest.Start(t, pulsetest.Config{})
		pa.Setenv(t)
		aecRoom(t, pa)
		var calls [2]*aecCall
		for i, aec := range []string{"off", "on"} {
			calls[i] = runAECCall(t, bin, pa, echoCall, near, append(aecOnly, "--aec", aec), farArgs)
			calls[i].measureEcho()
			t.Logf("aec %s: %v", aec, calls[i])
		}
		off, on := calls[0], calls[1]
		drift, pts := aecDrift(off.spk, off.mic, off.echoStart+aecRate/2, len(off.spk)-aecRate/2)
		t.Logf("loop delay %v ms (speaker to microphone, plus the recordings' start offset): drift %.3f %%", pts, 100*drift)
		erle := off.echoDB - on.echoDB
		nearVsOff := on.nearDB - off.nearDB
		t.Logf("ERLE %.1f dB; near end during double talk %+.1f dB vs aec off, %+.1f dB vs the near end alone, envelope corr %.2f",
			erle, nearVsOff, on.nearDB-on.cleanDB, on.nearCmp.EnvCorr)
		if dump != "" {
			pulsetest.Spectrogram(t, filepath.Join(dump, "aec-off.png"), aecPCM(off.rec), aecRate, 1, "B's recording, AEC off: B's echo, A's near end over it from 5.5 s")
			pulsetest.Spectrogram(t, filepath.Join(dump, "aec-on.png"), aecPCM(on.rec), aecRate, 1, "B's recording, AEC on")
			pulsetest.Spectrogram(t, filepath.Join(dump, "aec-near-clean.png"), near, aecRate, 1, "clean near end (espeak-ng en+f3)")
		}
		// Measured: 30 to 40 dB (five runs).
		if erle < 25 {
			t.Errorf("ERLE %.1f dB, want ≥ 25 dB", erle)
		}
		// Measured: envelope corr 0.83 to 0.87, level 9 to 10 dB down: the
		// canceller's high suppression damps the near end where it overlaps
		// the echo (here the near end is 3.5 dB louder than the echo; 7 dB
		// down when 6.5 dB louder). The level bound only catches a near end
		// that is gone.
		if on.nearCmp.EnvCorr < 0.5 || nearVsOff < -15 {
			t.Errorf("near end during double talk: envelope corr %.2f (want ≥ 0.5), %+.1f dB vs aec off (want ≥ -15 dB)", on.nearCmp.EnvCorr, nearVsOff)
		}
	})

	t.Run("noise suppression", func(t *testing.T) {
		pa := pulsetest.Start(t, pulsetest.Config{})
		pa.Setenv(t)
		tl := aecTimeline{call: 7500 * time.Millisecond, nearAt: 3500 * time.Millisecond}
		// Stationary white noise at -30 dBFS rms in the room for the whole
		// call, the near end's talker over it.
		pa.Play(t, pulsetest.MicSink, aecPCM(aecNoise(40*aecRate, -30)), aecRate, 1)
		var calls [2]*aecCall
		for i, ns := range []string{"off", "on"} {
			calls[i] = runAECCall(t, bin, pa, tl, near, []string{"--aec", "off", "--ns", ns, "--agc", "off"}, []string{"--audio", "none"})
			calls[i].measureQuiet(aecRate*2, len(near))
			t.Logf("ns %s: %v; noise %.1f dBFS", ns, calls[i], calls[i].quietDB)
		}
		off, on := calls[0], calls[1]
		reduced := off.quietDB - on.quietDB
		speech := on.nearDB - on.cleanDB
		t.Logf("noise reduced by %.1f dB; speech %+.1f dB vs clean, %+.1f dB vs ns off, envelope corr %.2f",
			reduced, speech, on.nearDB-off.nearDB, on.nearCmp.EnvCorr)
		if dump != "" {
			pulsetest.Spectrogram(t, filepath.Join(dump, "ns-off.png"), aecPCM(off.rec), aecRate, 1, "B's recording, noise suppression off")
			pulsetest.Spectrogram(t, filepath.Join(dump, "ns-on.png"), aecPCM(on.rec), aecRate, 1, "B's recording, noise suppression on")
		}
		// Measured: noise down 17.6 to 18.2 dB, speech -0.6 to -0.7 dB.
		if reduced < 10 || math.Abs(speech) > 3 {
			t.Errorf("noise reduced by %.1f dB (want ≥ 10 dB), speech %+.1f dB vs clean (want within 3 dB)", reduced, speech)
		}
	})

	t.Run("drift 0.1 %", func(t *testing.T) {
		// The drifting room is a pipe of three processes; on a loaded
		// machine it can underrun and jump the loop's delay by a few ms
		// either way, as much as the drift itself over the call. A call
		// whose room did not drift as built says nothing about the
		// canceller under 0.1 % drift: another call decides (three in
		// all); a room that never drifts as built fails.
		const attempts = 3
		for attempt := 1; ; attempt++ {
			pa := pulsetest.Start(t, pulsetest.Config{})
			pa.Setenv(t)
			aecDriftingRoom(t, pa, 0.999)
			c := runAECCall(t, bin, pa, echoCall, near, append(aecOnly, "--aec", "on"), farArgs)
			c.measureEcho()
			t.Logf("attempt %d: aec on: %v", attempt, c)
			// The loop's delay through the echo-only part grows by 1 ms a second.
			drift, pts := aecDrift(c.spk, c.mic, c.echoStart+aecRate/2, len(c.spk)-aecRate/2)
			t.Logf("attempt %d: loop drift %.3f %% (fit over %d points, delay %v)", attempt, 100*drift, len(pts), pts)
			// Measured: 0.07 to 0.16 % (the pipe's buffering moves the
			// delay in steps of 3 to 4 ms). On a loaded CI machine the
			// room steps more often than built: 0.17 to 0.21 % in all
			// three calls of one run (ERLE 22 to 27 dB), 0.18 % with
			// ERLE 16 dB in another. More drift than built still tests
			// the canceller under drift, but a call over 0.16 % whose
			// ERLE falls short gives way to another; a room that never
			// drifts 0.05 to 0.25 % fails (a fit misread by an
			// underrun's step read 0.297 %).
			if drift < 0.0005 || drift > 0.0025 {
				if attempt < attempts {
					continue
				}
				t.Errorf("loop drifted %.3f %% in %d calls, want 0.05 to 0.25 %%", 100*drift, attempts)
			}
			// Without the canceller the call changes the echo's level by
			// under 1 dB ("echo and double talk", aec off): the echo at the
			// microphone stands for it.
			erle := c.micEchoDB - c.echoDB
			t.Logf("ERLE %.1f dB (echo at the microphone over echo received)", erle)
			// Measured: ERLE 25 to 38 dB.
			if erle < 20 && drift > 0.0016 && attempt < attempts {
				continue
			}
			if erle < 20 {
				t.Errorf("ERLE %.1f dB with %.3f %% drift, want ≥ 20 dB", erle, 100*drift)
			}
			return
		}
	})
}

// aecTimeline is when things happen in a call, from when both peers are in
// the room.
type aecTimeline struct {
	call   time.Duration // --duration
	nearAt time.Duration // the near end starts talking
}

// aecConverge is how long the canceller gets before the echo is measured.
const aecConverge = 2 * time.Second

// aecRoom makes the virtual speaker audible in the virtual microphone:
// 80 ms later, 6 dB down.
func aecRoom(t *testing.T, pa *pulsetest.Server) {
	t.Helper()
	mod := strings.TrimSpace(pa.Pactl(t, "load-module", "module-loopback",
		"source="+pulsetest.SpeakerMonitor, "sink="+pulsetest.MicSink, "latency_msec=80",
		"source_dont_move=true", "sink_dont_move=true"))
	in := aecSinkInputOf(t, pa, mod)
	pa.Pactl(t, "set-sink-input-volume", in, "0.5") // linear: -6 dB
	if v := aecSinkInputVolume(t, pa, in); !strings.Contains(v, "-6.02 dB") {
		t.Fatalf("loopback volume %q, want -6.02 dB", v)
	}
}

// aecDriftingRoom is aecRoom with the microphone's clock running at
// 1/speed of the speaker's: the speaker's monitor goes through sox's
// resampler before it plays into the microphone, so the loop's delay
// grows by 1/speed-1 a second, 1 ms for 0.999 (module-loopback would adapt
// its rate to keep the delay steady, and both null sinks run on the same
// clock).
func aecDriftingRoom(t *testing.T, pa *pulsetest.Server, speed float64) {
	t.Helper()
	raw := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), pa.Env()...)
		return cmd
	}
	format := []string{"--raw", "--format=s16le", "--rate=" + strconv.Itoa(aecRate), "--channels=1"}
	rec := raw("pacat", append([]string{"--record", "-d", pulsetest.SpeakerMonitor, "--latency-msec=20"}, format...)...)
	soxRaw := []string{"-t", "raw", "-e", "signed", "-b", "16", "-L", "-r", strconv.Itoa(aecRate), "-c", "1"}
	args := append([]string{"-V1", "--buffer", "960"}, soxRaw...)
	args = append(append(append(args, "-"), soxRaw...), "-", "speed", strconv.FormatFloat(speed, 'f', -1, 64), "vol", "0.5")
	sox := raw("sox", args...)
	play := raw("pacat", append([]string{"--playback", "-d", pulsetest.MicSink, "--latency-msec=60"}, format...)...)
	var err error
	if sox.Stdin, err = rec.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if play.Stdin, err = sox.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []*exec.Cmd{play, sox, rec} {
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", cmd.Path, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
}

var aecSinkInputRE = regexp.MustCompile(`(?m)^Sink Input #(\d+)$`)

// aecSinkInputOf is the index of the sink input that module mod owns.
func aecSinkInputOf(t *testing.T, pa *pulsetest.Server, mod string) string {
	t.Helper()
	list := pa.Pactl(t, "list", "sink-inputs")
	locs := aecSinkInputRE.FindAllStringSubmatchIndex(list, -1)
	for i, loc := range locs {
		end := len(list)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		if strings.Contains(list[loc[0]:end], "Owner Module: "+mod+"\n") {
			return list[loc[2]:loc[3]]
		}
	}
	t.Fatalf("no sink input of module %s in:\n%s", mod, list)
	return ""
}

// aecSinkInputVolume is pactl's volume line of sink input in.
func aecSinkInputVolume(t *testing.T, pa *pulsetest.Server, in string) string {
	t.Helper()
	_, block, ok := strings.Cut(pa.Pactl(t, "list", "sink-inputs"), "Sink Input #"+in+"\n")
	if !ok {
		t.Fatalf("sink input %s gone", in)
	}
	for _, line := range strings.Split(block, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Volume:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// aecCall is one call and what was measured in it. Positions are samples;
// a position in rec plus shift is the same moment in mic.
type aecCall struct {
	rec []float64 // B's recording: A's microphone after processing
	mic []float64 // A's raw microphone (the mic source), from before the call
	spk []float64 // A's speaker (its monitor), from before the call

	nearMic, nearRec int // where the near end starts
	shift            int
	echoStart        int // where sound first reaches the mic (-1: never)

	echoDB, micEchoDB float64 // dBFS rms of rec and of mic over the echo-only frames
	echoFrames        int
	nearDB, cleanDB   float64 // dBFS rms of rec's near-end part, and of the near end alone
	nearCmp           pulsetest.SpeechReport
	quietDB           float64 // dBFS rms of rec where nobody talks (measureQuiet)
}

func (c *aecCall) String() string {
	s := fmt.Sprintf("near end at %.2f s in the mic, %.2f s in the recording; near end %+.1f dB vs alone (%v)",
		float64(c.nearMic)/aecRate, float64(c.nearRec)/aecRate, c.nearDB-c.cleanDB, c.nearCmp)
	if c.echoFrames > 0 {
		s += fmt.Sprintf("; echo %.1f dBFS at the mic, %.1f dBFS received (%+.1f dB) over %d frames",
			c.micEchoDB, c.echoDB, c.echoDB-c.micEchoDB, c.echoFrames)
	}
	return s
}

// runAECCall runs A (the microphone, aArgs) and B (bArgs, recording) in
// one call; the near end talks into A's microphone at tl.nearAt.
func runAECCall(t *testing.T, bin string, pa *pulsetest.Server, tl aecTimeline, near []int16, aArgs, bArgs []string) *aecCall {
	t.Helper()
	url, _ := startSignal(t)
	dir := t.TempDir()
	mic := pa.Record(t, pulsetest.MicSource, aecRate, 1)
	spk := pa.Record(t, pulsetest.SpeakerMonitor, aecRate, 1)
	dur := tl.call.String()
	var nearMark time.Duration
	res := runPair(t, url, [2]peerSpec{
		{bin, append([]string{"--audio", "mic", "--video", "none", "--duration", dur}, aArgs...)},
		{bin, append([]string{"--video", "none", "--duration", dur, "--record", dir}, bArgs...)},
	}, tl.nearAt, func() {
		nearMark = mic.Recorded()
		pa.Play(t, pulsetest.MicSink, near, aecRate, 1)
	})
	c := &aecCall{mic: pulsetest.Mono(mic.Stop(), 1), spk: pulsetest.Mono(spk.Stop(), 1)}
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
		}
	}
	// A's report says what processing ran, as asked (each part on unless
	// its flag says off; the last flag counts).
	want := map[string]bool{"--aec": true, "--ns": true, "--agc": true}
	for i := 0; i+1 < len(aArgs); i++ {
		if _, ok := want[aArgs[i]]; ok {
			want[aArgs[i]] = aArgs[i+1] != "off"
		}
	}
	v := res[0].rep.Voice
	switch anyOn := want["--aec"] || want["--ns"] || want["--agc"]; {
	case !anyOn && v != nil:
		t.Errorf("A's report has voice_processing %+v with every part off", *v)
	case anyOn && v == nil:
		t.Errorf("A's report has no voice_processing for %v", aArgs)
	case anyOn && (v.EchoCancel != want["--aec"] || v.NoiseSuppress != want["--ns"] || v.GainControl != want["--agc"]):
		t.Errorf("A's report says %+v for %v", *v, aArgs)
	case anyOn && v.EchoCancel && !v.EchoValid:
		t.Errorf("A's echo canceller never measured the echo path: %+v", *v)
	case anyOn:
		t.Logf("A's voice processing: %+v", *v)
	}
	c.rec = pulsetest.Mono(decodeOgg(t, filepath.Join(dir, "audio.ogg")), 1)
	clean := pulsetest.Mono(near, 1)

	// The near end plays unchanged into the mic: an exact copy there
	// (Recorded runs ahead of where a new stream lands by up to 0.4 s).
	at := int(nearMark.Seconds() * aecRate)
	var corr float64
	c.nearMic, corr = aecFindCopy(c.mic, clean, at-aecRate, at+aecRate/2)
	if corr < 0.5 {
		t.Fatalf("near end not found in the microphone (corr %.2f)", corr)
	}
	// In B's recording: with the processing off it is the mic's mix of near
	// end and echo or noise, with it on mostly the near end alone. Whichever
	// matches the envelope better places it.
	pad := aecRate / 5
	mixed := c.mic[max(c.nearMic-pad, 0):min(c.nearMic+len(clean)+pad, len(c.mic))]
	a, ra := aecLocate(c.rec, mixed)
	b, rb := aecLocate(c.rec, clean)
	c.nearRec = b
	if ra.EnvCorr > rb.EnvCorr {
		c.nearRec = a + (c.nearMic - max(c.nearMic-pad, 0))
	}
	if max(ra.EnvCorr, rb.EnvCorr) < 0.5 {
		t.Fatalf("near end not found in B's recording: %v / %v", ra, rb)
	}
	c.shift = c.nearMic - c.nearRec
	c.echoStart = -1
	const fl = aecRate / 50
	for i := 0; i+fl <= len(c.mic); i += fl {
		if aecDB(c.mic[i:i+fl]) > -50 {
			c.echoStart = i
			break
		}
	}
	c.measureNear(clean)
	return c
}

// measureNear compares rec's near-end part with the near end alone.
func (c *aecCall) measureNear(clean []float64) {
	if c.nearRec < 0 || c.nearRec+len(clean) > len(c.rec) {
		return
	}
	c.nearDB = aecDB(c.rec[c.nearRec : c.nearRec+len(clean)])
	c.cleanDB = aecDB(clean)
	// CompareSpeech finds got in ref: the near end with room each side.
	pad := aecRate / 10
	lo, hi := c.nearRec-pad, c.nearRec+len(clean)+pad
	if lo < 0 || hi > len(c.rec) {
		return
	}
	ref := make([]float64, 0, len(clean)+4*pad)
	ref = append(ref, make([]float64, 2*pad)...)
	ref = append(ref, clean...)
	ref = append(ref, make([]float64, 2*pad)...)
	c.nearCmp = pulsetest.CompareSpeech(ref, c.rec[lo:hi], aecRate)
}

// measureEcho finds the echo-only frames (B's voice loud in A's raw
// microphone, 2 s after it started, the near end not yet talking) and the
// level of rec and of mic over them.
func (c *aecCall) measureEcho() {
	const fl = aecRate / 50
	if c.echoStart < 0 {
		return
	}
	var recE, micE float64
	for r := 0; r+fl <= len(c.rec); r += fl {
		m := r + c.shift
		if m < c.echoStart+int(aecConverge.Seconds()*aecRate) || m+fl > c.nearMic-aecRate/10 {
			continue
		}
		if aecDB(c.mic[m:m+fl]) < -40 { // a pause of B's
			continue
		}
		recE += aecEnergy(c.rec[r : r+fl])
		micE += aecEnergy(c.mic[m : m+fl])
		c.echoFrames++
	}
	if c.echoFrames == 0 {
		return
	}
	n := float64(c.echoFrames * fl)
	c.echoDB = 10 * math.Log10(recE/n+1e-12)
	c.micEchoDB = 10 * math.Log10(micE/n+1e-12)
}

// measureQuiet is rec's level from after (samples into the recording)
// until just before the near end talks, and from just after it until the
// end.
func (c *aecCall) measureQuiet(after, nearLen int) {
	margin := aecRate / 5
	var e float64
	var n int
	for _, seg := range [][2]int{{after, c.nearRec - margin}, {c.nearRec + nearLen + margin, len(c.rec) - margin}} {
		if seg[1] > seg[0] {
			e += aecEnergy(c.rec[seg[0]:seg[1]])
			n += seg[1] - seg[0]
		}
	}
	c.quietDB = 10 * math.Log10(e/float64(max(n, 1))+1e-12)
}

// aecLocate is where clean (speech) starts in y.
func aecLocate(y, clean []float64) (int, pulsetest.SpeechReport) {
	if len(y) < len(clean) {
		return -1, pulsetest.SpeechReport{}
	}
	rep := pulsetest.CompareSpeech(y, clean, aecRate)
	return int(math.Round(rep.Offset.Seconds() * aecRate)), rep
}

// aecFindCopy is where an exact copy of x (scaled, plus other sound)
// starts in y, searched from from to to, and the waveforms' normalised
// correlation there. It matches x's loudest second: every 4th sample
// first, then every sample around the best.
func aecFindCopy(y, x []float64, from, to int) (int, float64) {
	n := min(aecRate, len(x))
	off, loudest := 0, -1.0
	for i := 0; i+n <= len(x); i += aecRate / 10 {
		if e := aecEnergy(x[i : i+n]); e > loudest {
			off, loudest = i, e
		}
	}
	return aecBestLag(y, x[off:off+n], from+off, to+off, 4, off)
}

// aecDrift is how fast the loop's delay changes between positions from
// and to of the speaker's recording, and the delays in ms. The delay is
// measured every half second where a 200 ms piece of the speaker is found
// clearly in the mic. The drifting room's pipe (pacat, sox, pacat) may
// underrun on a loaded machine, which adds a step of tens of ms to the
// delay at once; the drift is the one slope fitted by least squares within
// the stretches between such steps (each stretch its own offset). Both
// recordings start before the call, a few ms apart: the delays include that.
func aecDrift(spk, mic []float64, from, to int) (float64, []float64) {
	n := aecRate / 5
	var xs, ys, ms []float64
	for at := max(from, 0); at+n <= min(to, len(spk)); at += aecRate / 2 {
		if aecDB(spk[at:at+n]) < -40 {
			continue // a pause of B's
		}
		pos, corr := aecBestLag(mic, spk[at:at+n], at-aecRate/2, at+aecRate/2, 2, 0)
		if corr < 0.9 {
			continue
		}
		xs, ys = append(xs, float64(at)), append(ys, float64(pos-at))
		ms = append(ms, math.Round(10000*float64(pos-at)/aecRate)/10)
	}
	return aecStepFreeSlope(xs, ys, aecDelayStep*aecRate/1000), ms
}

// aecDelayStep (ms) is a change of the loop's delay between two
// measurements that only a glitch of the pipe makes: the drift moves it by
// 0.5 ms per half second, the pipe's buffering jitters it by a few ms.
const aecDelayStep = 8

// aecStepFreeSlope is the least-squares slope of ys over xs with the points
// split into stretches wherever ys jumps by more than step from one point
// to the next: one slope, an offset per stretch. Zero with fewer than three
// points in stretches of two or more.
func aecStepFreeSlope(xs, ys []float64, step float64) float64 {
	var sxy, sxx float64
	used := 0
	fit := func(lo, hi int) { // the stretch xs[lo:hi]
		if hi-lo < 2 {
			return
		}
		used += hi - lo
		var mx, my float64
		for i := lo; i < hi; i++ {
			mx += xs[i] / float64(hi-lo)
			my += ys[i] / float64(hi-lo)
		}
		for i := lo; i < hi; i++ {
			sxy += (xs[i] - mx) * (ys[i] - my)
			sxx += (xs[i] - mx) * (xs[i] - mx)
		}
	}
	lo := 0
	for i := 1; i <= len(xs); i++ {
		if i == len(xs) || math.Abs(ys[i]-ys[i-1]) > step {
			fit(lo, i)
			lo = i
		}
	}
	if used < 3 || sxx == 0 {
		return 0
	}
	return sxy / sxx
}

// aecBestLag is the start in y (within lo..hi) where piece matches best,
// less back, and the normalised correlation there: every step-th lag and
// sample first, then every lag around the best.
func aecBestLag(y, piece []float64, lo, hi, step, back int) (int, float64) {
	corr := func(l, s int) float64 {
		if l < 0 || l+len(piece) > len(y) {
			return -2
		}
		var xy, yy, xx float64
		for k := 0; k < len(piece); k += s {
			xy += piece[k] * y[l+k]
			yy += y[l+k] * y[l+k]
			xx += piece[k] * piece[k]
		}
		return xy / math.Sqrt(xx*yy+1e-20)
	}
	best, bc := lo, -2.0
	for l := lo; l <= hi; l += step {
		if c := corr(l, step); c > bc {
			best, bc = l, c
		}
	}
	fine, fc := best, -2.0
	for l := best - step; l <= best+step; l++ {
		if c := corr(l, 1); c > fc {
			fine, fc = l, c
		}
	}
	return fine - back, fc
}

func aecEnergy(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s
}

// aecDB is x's rms level in dBFS.
func aecDB(x []float64) float64 {
	return 10 * math.Log10(aecEnergy(x)/float64(max(len(x), 1))+1e-12)
}

func aecPCM(x []float64) []int16 {
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = int16(max(-32768, min(32767, math.Round(v*32768))))
	}
	return out
}

// aecNoise is n samples of white noise at dbfs rms (uniform, seeded).
func aecNoise(n int, dbfs float64) []float64 {
	r := rand.New(rand.NewPCG(1, 2))
	amp := math.Sqrt(3) * math.Pow(10, dbfs/20) // uniform's rms is amp/√3
	out := make([]float64, n)
	for i := range out {
		out[i] = amp * (2*r.Float64() - 1)
	}
	return out
}

// aecVoice is text spoken by espeak-ng in voice v at 48 kHz mono, peak at
// dbfs (pulsetest.Speech has one voice).
func aecVoice(t *testing.T, v, text string, dbfs float64) []int16 {
	t.Helper()
	wav := filepath.Join(t.TempDir(), "voice.wav")
	if out, err := exec.Command("espeak-ng", "-v", v, "-s", "150", "-w", wav, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	out, err := exec.Command("sox", "-V1", wav, "-t", "raw", "-e", "signed", "-b", "16", "-L",
		"-r", strconv.Itoa(aecRate), "-c", "1", "-", "norm", strconv.FormatFloat(dbfs, 'f', -1, 64)).Output()
	if err != nil {
		t.Fatalf("sox: %v", err)
	}
	pcm := make([]int16, len(out)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
	}
	return pcm
}

// writeAECWAV writes 48 kHz mono PCM16 to a WAV file for a headless peer
// to send.
func writeAECWAV(t *testing.T, pcm []int16) string {
	t.Helper()
	if aecRate != 48000 {
		t.Fatalf("writeWAV writes 48 kHz, the test runs at %d Hz", aecRate)
	}
	path := filepath.Join(t.TempDir(), "far.wav")
	writeWAV(t, path, pcm)
	return path
}

// TestAECStepFreeSlope checks the drift fit the echo test relies on,
// including the delays of a CI run whose pipe underran once (an 18 ms step;
// a plain least-squares line read 0.297 % there).
func TestAECStepFreeSlope(t *testing.T) {
	halfSeconds := func(ms ...float64) (xs, ys []float64) {
		for i, d := range ms {
			xs = append(xs, float64(i*aecRate/2))
			ys = append(ys, d*aecRate/1000)
		}
		return xs, ys
	}
	for _, tc := range []struct {
		name     string
		delaysMS []float64
		lo, hi   float64 // percent
	}{
		{"steady 0.1 %", []float64{100, 100.5, 101, 101.5, 102, 102.5}, 0.099, 0.101},
		{"no drift", []float64{100, 100, 100, 100}, 0, 0},
		{"jitter", []float64{100, 103, 99.5, 102.5, 101, 104.5}, 0.05, 0.4},
		{"ci run with one underrun", []float64{125.9, 126.4, 126.9, 127.4, 131.9, 129.4, 130.5, 130.8, 131.4, 149.5, 149.9, 150.4}, 0.05, 0.2},
		{"two steps", []float64{100, 100.5, 101, 120, 120.5, 121, 150, 150.5, 151}, 0.099, 0.101},
		{"a step each time", []float64{100, 120, 140, 160}, 0, 0},
		{"too few points", []float64{100, 101}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xs, ys := halfSeconds(tc.delaysMS...)
			got := 100 * aecStepFreeSlope(xs, ys, aecDelayStep*aecRate/1000)
			if got < tc.lo-1e-9 || got > tc.hi+1e-9 {
				t.Errorf("slope %.4f %%, want %.3f to %.3f %%", got, tc.lo, tc.hi)
			}
		})
	}
}
