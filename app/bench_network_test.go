package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/app/netem"
)

var tBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// points makes a timeline with one point a second from tBase+1s, send
// rates kbps and fps.
func points(kbps []float64, fps []float64) []TimelinePoint {
	var tl []TimelinePoint
	for i, k := range kbps {
		p := TimelinePoint{UnixMS: tBase.Add(time.Duration(i+1) * time.Second).UnixMilli(), SendKbps: k}
		if fps != nil {
			p.FPSIn = fps[i]
		}
		tl = append(tl, p)
	}
	return tl
}

func TestTimelineFigures(t *testing.T) {
	//                 1s   2s   3s   4s   5s   6s   7s   8s
	send := points([]float64{900, 1200, 800, 450, 400, 600, 1100, 1150}, nil)
	recv := points([]float64{0, 0, 0, 0, 0, 0, 0, 0}, []float64{30, 30, 30, 12, 20, 24, 28, 30})
	if got := meanSend(send); got != 825 {
		t.Errorf("meanSend = %v", got)
	}
	if got := meanBetween(send, tBase.Add(time.Second), tBase.Add(3*time.Second)); got != 1000 {
		t.Errorf("meanBetween (1s, 3s] = %v, want 1000", got)
	}
	// Back up at 5 s: 90 % of 1000 at 7 s (28 fps there).
	if got := timeRecovered(send, recv, tBase.Add(5*time.Second), 900); got != 2 {
		t.Errorf("timeRecovered = %v, want 2", got)
	}
	if got := timeRecovered(send, recv, tBase.Add(5*time.Second), 5000); got != -1 {
		t.Errorf("timeRecovered never = %v, want -1", got)
	}
	fr := []FreezeSpan{{StartUnixMS: tBase.Add(2 * time.Second).UnixMilli(), MS: 3700}}
	if got := pictureBack(fr, tBase.Add(5*time.Second)); got != 0.7 {
		t.Errorf("pictureBack = %v, want 0.7", got)
	}
	if got := pictureBack(fr, tBase.Add(9*time.Second)); got != 0 {
		t.Errorf("pictureBack without a freeze = %v, want 0", got)
	}
}

// offeredAt makes the link's samples every linkFineEvery from tBase for
// secs seconds, each direction offered kbps(at, dir) (at in seconds after
// tBase) over the interval before a sample.
func offeredAt(secs float64, kbps func(at float64, dir int) float64) []offeredSample {
	s := []offeredSample{{at: tBase}}
	step := linkFineEvery.Seconds()
	for i := 1; float64(i)*step <= secs+1e-9; i++ {
		at := float64(i) * step
		n := s[len(s)-1]
		n.at = tBase.Add(time.Duration(i) * linkFineEvery)
		for d := range 2 {
			n.in[d] += int64(kbps(at-step/2, d) * 1000 / 8 * step)
		}
		s = append(s, n)
	}
	return s
}

func TestTimeUnder(t *testing.T) {
	// 1500 kbit/s until 3.9 s, 400 after; the other direction 1500
	// throughout.
	drop := func(at float64, dir int) float64 {
		if dir == 1 || at < 3.9 {
			return 1500
		}
		return 400
	}
	// As drop with 600 kbit/s from 5.5 to 7.5 s.
	burst := func(at float64, dir int) float64 {
		if at >= 5.5 && at < 7.5 {
			return 600
		}
		return drop(at, dir)
	}
	tests := []struct {
		name string
		s    []offeredSample
		dir  int
		from float64 // seconds after tBase
		cap  float64
		want float64
	}{
		// [3.8 s, 4.8 s] is 510 kbit/s; from 3.9 s every window is 400.
		{"under from the cut", offeredAt(10, drop), 0, 3.5, 500, 1.4},
		// The burst breaks the 3 s from 3.9 s, and every 3 s with a
		// window more than half inside it: from 7 s on it holds.
		{"a burst inside the hold", offeredAt(11, burst), 0, 3.5, 500, 4.5},
		{"samples end under the capacity", offeredAt(5.5, drop), 0, 3.5, 500, 1.4},
		{"never under", offeredAt(10, drop), 0, 3.5, 100, -1},
		{"the other direction", offeredAt(10, drop), 1, 3.5, 500, -1},
		{"under from the start", offeredAt(10, drop), 0, 0, 2000, 1},
		{"nothing after the change", offeredAt(3, drop), 0, 3.5, 500, -1},
		{"no samples", nil, 0, 0, 500, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := tBase.Add(time.Duration(tt.from * float64(time.Second)))
			if got := round1(timeUnder(tt.s, tt.dir, from, tt.cap)); got != tt.want {
				t.Errorf("timeUnder = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNetworkAnalyse(t *testing.T) {
	var drop NetworkCondition
	for _, c := range NetworkConditions() {
		if c.Name == "3M-500k-3M" {
			drop = c
		}
	}
	// The drop comes at origin+8s: origin is tBase-6s, so at tBase+2s;
	// back at tBase+22s.
	origin := tBase.Add(-6 * time.Second)
	kbps := make([]float64, 30)
	fps := make([]float64, 30)
	for i := range kbps {
		at := i + 1 // seconds after tBase
		switch {
		case at <= 2:
			kbps[i], fps[i] = 2000, 30
		case at < 4:
			kbps[i], fps[i] = 900, 25
		case at <= 22:
			kbps[i], fps[i] = 450, 25
		case at < 27:
			kbps[i], fps[i] = 1000, 30
		default:
			kbps[i], fps[i] = 1900, 30
		}
	}
	rep := func() *Report {
		return &Report{CallS: 30, Timeline: points(kbps, fps), VideoIn: VideoInStats{FPS: 28,
			LongFreezes: []FreezeSpan{{StartUnixMS: tBase.UnixMilli(), MS: 600}}},
			Latency: LatencyStats{VideoP50: 60, VideoP95: 90}, AudioIn: AudioInStats{ConcealedRatio: 0.01}}
	}
	// The link: 2000 kbit/s each way until tBase+2.6s, then 450; the
	// joiner's direction until tBase+2.9s.
	offered := offeredAt(30, func(at float64, dir int) float64 {
		if at < 2.6+0.3*float64(dir) {
			return 2000
		}
		return 450
	})
	r := NetworkResult{cond: drop, Host: rep(), Joiner: rep()}
	r.Joiner.Latency.VideoP95 = 120
	r.Host.SetupMS.FirstVideoFrame, r.Joiner.SetupMS.FirstVideoFrame = 2500, 840
	r.analyse(origin, offered)
	if r.AdaptS == nil || *r.AdaptS != 1.9 {
		t.Errorf("adapt %v, want 1.9 (the joiner's link under 500 in [2.9 s, 3.9 s] after tBase)", r.AdaptS)
	}
	if r.RecoverS == nil || *r.RecoverS != 5 {
		t.Errorf("recover %v, want 5 (1900 ≥ 0.9 × 2000 at tBase+27s)", r.RecoverS)
	}
	if r.Freezes != 2 || r.LongestFreezeMS != 600 || r.LatencyP95 != 120 || r.FPS != 28 || r.ConcealedPct != 1 {
		t.Errorf("figures %+v", r)
	}
	if r.FirstFrameMS != 840 {
		t.Errorf("first frame %v ms, want the joiner's 840", r.FirstFrameMS)
	}
	// One report missing: times are "never", the rest from the one left.
	r = NetworkResult{cond: drop, Host: rep()}
	r.analyse(origin, offered)
	if r.AdaptS == nil || *r.AdaptS != -1 || r.FPS != 28 || r.FirstFrameMS != -1 {
		t.Errorf("with one report: adapt %v fps %v first frame %v", r.AdaptS, r.FPS, r.FirstFrameMS)
	}
}

func TestNetworkConditions(t *testing.T) {
	want := []string{"300k", "1M", "3M", "3M-500k-3M", "jitter", "burst-loss", "outage"}
	if got := NetworkConditionNames(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("conditions %v, want %v", got, want)
	}
	for _, c := range NetworkConditions() {
		if err := c.Link.Validate(); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if d := c.callDuration(15 * time.Second); d < 15*time.Second {
			t.Errorf("%s: %v", c.Name, d)
		}
	}
	c := NetworkConditions()[3]
	if got := c.describe(); got != "3 Mbit/s → 500 kbit/s → 3 Mbit/s (at 8s, for 20s), 50 ms, queue 100 ms" {
		t.Errorf("describe = %q", got)
	}
	if got := c.callDuration(15 * time.Second); got != 40*time.Second {
		t.Errorf("drop call lasts %v, want 40s (8 + 20 + 12)", got)
	}
	if got := NetworkConditions()[5].describe(); got != "50 ms, GE loss 5 %, bursts 4" {
		t.Errorf("describe = %q", got)
	}
}

func TestLinkPoint(t *testing.T) {
	prev := [2]netem.Counters{{DeliveredBytes: 1000}, {}}
	cur := [2]netem.Counters{{DeliveredBytes: 126000, QueueDropPackets: 3, LossDropPackets: 1, OutageDropPackets: 2}, {DeliveredBytes: 62500}}
	p := linkPoint(tBase, time.Second, [2]int64{1_000_000, 0}, prev, cur)
	if p.DeliveredKbps != [2]float64{1000, 500} || p.QueueDrops != [2]int64{3, 0} || p.LossDrops != [2]int64{3, 0} || p.CapacityKbps != [2]float64{1000, 0} {
		t.Errorf("%+v", p)
	}
}

func TestNetworkMarkdownAndDoc(t *testing.T) {
	v := 1.5
	r := &BenchResult{Time: tBase, Machine: MachineInfo{Cores: 2, LoadAvgStart: []float64{0.5}, LoadAvg: []float64{0.7}}, Network: []NetworkResult{
		{Condition: "1M", Link: "1 Mbit/s", FirstFrameMS: 812.4, DurationS: 15, SendKbps: 650, FPS: 25.4, Freezes: 2, LongestFreezeMS: 700,
			LatencyP50: 80, LatencyP95: 130, ConcealedPct: 0.5, AdaptS: &v, Host: &Report{}, Joiner: &Report{}},
		{Condition: "outage", Link: "3 Mbit/s", Err: "joiner: exit 4"},
	}}
	md := r.Markdown()
	for _, want := range []string{"## Bad networks\n", "load average [0.5] at the start, [0.7] at the end",
		"| 1M | 1 Mbit/s | 812 | 15 | 650 | 25.4 | 2 | 700 | 80 / 130 | 0.50 % | 1.5 | – |", "| outage | 3 Mbit/s | failed: joiner: exit 4 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// bench --network replaces its section only; the full bench keeps it.
	doc := filepath.Join(t.TempDir(), "benchmarks.md")
	head := "# Peercall benchmarks\n\n## Call quality\n\nold quality\n\n"
	comp := "## Component benchmarks\n\n```\nBenchmarkX\n```\n"
	if err := os.WriteFile(doc, []byte(head+comp), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteBenchDoc(BenchOptions{Network: true, DocPath: doc}, r, md); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(doc)
	if want := head + md + "\n" + comp; string(b) != want {
		t.Fatalf("after --network:\n%s\nwant:\n%s", b, want)
	}
	md2 := strings.Replace(md, "650", "640", 1)
	if err := WriteBenchDoc(BenchOptions{Network: true, DocPath: doc}, r, md2); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(doc)
	if want := head + md2 + "\n" + comp; string(b) != want {
		t.Fatalf("after a second --network:\n%s\nwant:\n%s", b, want)
	}
	full := &BenchResult{Time: tBase}
	if err := WriteBenchDoc(BenchOptions{DocPath: doc}, full, "new quality\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(doc)
	if !strings.Contains(string(b), "new quality") || !strings.Contains(string(b), md2) || strings.Contains(string(b), "old quality") {
		t.Fatalf("the full bench lost the network section or kept the old one:\n%s", b)
	}
}

func TestLongFreezes(t *testing.T) {
	v := &videoReceiver{}
	for _, ms := range []int{0, 33, 66, 700, 733, 1800} {
		v.decodedAt = append(v.decodedAt, tBase.Add(time.Duration(ms)*time.Millisecond))
	}
	got := v.longFreezes(tBase, tBase.Add(2500*time.Millisecond))
	want := []FreezeSpan{{StartUnixMS: tBase.Add(66 * time.Millisecond).UnixMilli(), MS: 634},
		{StartUnixMS: tBase.Add(733 * time.Millisecond).UnixMilli(), MS: 1067},
		{StartUnixMS: tBase.Add(1800 * time.Millisecond).UnixMilli(), MS: 700}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("freeze %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := v.longFreezes(tBase, tBase.Add(2*time.Second)); len(got) != 2 {
		t.Errorf("a 200 ms tail is no freeze: %+v", got)
	}
	none := (&videoReceiver{}).longFreezes(tBase, tBase.Add(3*time.Second))
	if len(none) != 1 || none[0].MS != 3000 {
		t.Errorf("no frame at all: %+v, want one 3 s freeze", none)
	}
}

func TestSampleFreezes(t *testing.T) {
	at := func(ms int) time.Time { return tBase.Add(time.Duration(ms) * time.Millisecond) }
	// No remote video for 300 ms, frames, then stuck from 600 to 1400 ms.
	fs := []frameSample{{at: at(0), n: -1}, {at: at(100), n: -1}, {at: at(300), n: 3}, {at: at(400), n: 6}, {at: at(600), n: 12},
		{at: at(700), n: 12}, {at: at(1300), n: 12}, {at: at(1400), n: 15}, {at: at(1500), n: 18}}
	got := sampleFreezes(fs)
	if len(got) != 1 || got[0].StartUnixMS != at(600).UnixMilli() || got[0].MS != 800 {
		t.Errorf("freezes %+v, want one of 800 ms from 600 ms", got)
	}
	// (300, 1500]: from 6 at 400 ms to 18 at 1500 ms.
	if got := framesBetween(fs, at(300), at(1500)); got != 10.9 {
		t.Errorf("framesBetween = %v, want 10.9 fps (12 frames over 1.1 s)", got)
	}
	none := sampleFreezes([]frameSample{{at: at(0), n: -1}, {at: at(900), n: 0}})
	if len(none) != 1 || none[0].MS != 900 {
		t.Errorf("nothing shown: %+v, want one 900 ms freeze", none)
	}
}

func TestChromiumResult(t *testing.T) {
	c := NetworkConditions()[1] // 1M
	var cc chromiumCall
	cc.origin = tBase
	for i := range 50 {
		at := tBase.Add(time.Duration(i) * 100 * time.Millisecond)
		cc.frames[0] = append(cc.frames[0], frameSample{at: at, n: 3 * i, w: 640, h: 480})
		cc.frames[1] = append(cc.frames[1], frameSample{at: at, n: 3 * min(i, 20), w: 640, h: 480}) // stuck after 2 s
	}
	for i := 1; i <= 5; i++ {
		cc.series = append(cc.series, LinkPoint{UnixMS: tBase.Add(time.Duration(i) * time.Second).UnixMilli(), OfferedKbps: [2]float64{900, 700}})
	}
	cc.offered = offeredAt(5, func(_ float64, dir int) float64 { return 900 - 200*float64(dir) })
	// The joiner (B) joined at 1000 ms past the epoch and showed its
	// first frame 1234.5 ms later; the host's page has no first frame.
	cc.joined = [2]float64{900, 1000}
	cc.first = [2]float64{0, 2234.5}
	r := chromiumResult(c, cc, 5*time.Second)
	if r.Host == nil || r.Joiner == nil || r.Host.VideoIn.FPS != 30 {
		t.Fatalf("reports %+v %+v", r.Host, r.Joiner)
	}
	if r.FirstFrameMS != 1234.5 || r.Host.SetupMS.FirstVideoFrame != -1 {
		t.Errorf("first frame %v ms (host's %v), want the joiner's 1234.5 (host none)", r.FirstFrameMS, r.Host.SetupMS.FirstVideoFrame)
	}
	if r.Freezes != 1 || r.LongestFreezeMS != 2900 || r.LinkKbps != 800 || r.SendKbps != 800 {
		t.Errorf("freezes %d longest %v link %v send %v", r.Freezes, r.LongestFreezeMS, r.LinkKbps, r.SendKbps)
	}
	// 640x480 at 30 fps is 9.216 Mpx/s: one side all 5 s, the other 2 of 5.
	if r.MpxS != 6.45 {
		t.Errorf("delivered %v Mpx/s, want 6.45", r.MpxS)
	}
	if r.AdaptS == nil || *r.AdaptS != 1 {
		t.Errorf("adapt %v, want 1 (under 1 Mbit/s from the first second)", r.AdaptS)
	}
	ours := NetworkResult{Condition: "1M", Link: "l", Host: &Report{}, Joiner: &Report{}, FirstFrameMS: 912.3, LinkKbps: 850, FPS: 25, MpxS: 5, Chromium: &r}
	md := networkMarkdown(MachineInfo{}, []NetworkResult{ours}, "synthetic")
	if !strings.Contains(md, "| 1M | 912 / 1234 | 850 / 800 | 25.0 / 20.9 | 5.00 / 6.45 (0.78×) | 0 / 1 | 0 / 2900 | – / – | – / – | – / 1.0 | – / – |") {
		t.Errorf("comparison table:\n%s", md)
	}
}

// TestChromiumResultFirstFrame: a page's join → first frame needs both
// times, the frame after the join; else there is none (–).
func TestChromiumResultFirstFrame(t *testing.T) {
	c := NetworkConditions()[1]
	for _, tc := range []struct {
		name          string
		joined, first float64
		want          float64
	}{
		{"both", 5000, 5840.25, 840.3},
		{"never joined", 0, 5840, -1},
		{"no frame", 5000, 0, -1},
		{"frame before the join (a clock step)", 5000, 4990, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cc chromiumCall
			cc.origin = tBase
			for s := range 2 {
				cc.frames[s] = []frameSample{{at: tBase, n: 0}, {at: tBase.Add(time.Second), n: 30}}
			}
			cc.joined[1], cc.first[1] = tc.joined, tc.first
			r := chromiumResult(c, cc, time.Second)
			if r.FirstFrameMS != tc.want {
				t.Errorf("first frame %v ms, want %v", r.FirstFrameMS, tc.want)
			}
		})
	}
}
