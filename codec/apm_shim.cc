//go:build cgo

// The go:build line above keeps this file out of CGO_ENABLED=0 builds, where
// the Go tool refuses C++ sources.

#include "apm_shim.h"

#include <string.h>

#include <new>

#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>

using webrtc::AudioProcessing;

struct peercall_apm {
	AudioProcessing *apm;
	int rate;
	size_t frame; // samples per 10 ms
	// One frame per direction: ProcessStream and ProcessReverseStream take
	// AudioFrame, whose buffer is fixed size, so the Go slices are copied in.
	webrtc::AudioFrame render;
	webrtc::AudioFrame capture;
};

static void fill(webrtc::AudioFrame *f, const int16_t *pcm, size_t n, int rate) {
	f->samples_per_channel_ = n;
	f->sample_rate_hz_ = rate;
	f->num_channels_ = 1;
	memcpy(f->data_, pcm, n * sizeof(int16_t));
}

extern "C" peercall_apm *peercall_apm_new(int rate, int *err) {
	*err = AudioProcessing::kBadSampleRateError;
	if (rate != 8000 && rate != 16000 && rate != 32000 && rate != 48000) {
		return NULL;
	}
	webrtc::Config config;
	// Delay-agnostic mode estimates the echo delay from the signals, so the
	// reported delay only needs to be rough; the extended filter (128 ms
	// instead of 48 ms) tolerates the delay wandering with clock drift.
	config.Set<webrtc::DelayAgnostic>(new webrtc::DelayAgnostic(true));
	config.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(true));
	// The "experimental" AGC drives an analog mic volume, which Peercall does
	// not hand to the module; the digital AGC below works on the samples.
	config.Set<webrtc::ExperimentalAgc>(new webrtc::ExperimentalAgc(false));
	AudioProcessing *apm = AudioProcessing::Create(config);
	if (apm == NULL) {
		*err = AudioProcessing::kCreationFailedError;
		return NULL;
	}
	webrtc::StreamConfig mono(rate, 1, false);
	webrtc::ProcessingConfig pc = {{mono, mono, mono, mono}};
	int rc = apm->Initialize(pc);
	if (rc != AudioProcessing::kNoError) {
		delete apm;
		*err = rc;
		return NULL;
	}
	peercall_apm *a = new (std::nothrow) peercall_apm();
	if (a == NULL) {
		delete apm;
		*err = AudioProcessing::kCreationFailedError;
		return NULL;
	}
	a->apm = apm;
	a->rate = rate;
	a->frame = (size_t)(rate / 100);
	*err = 0;
	return a;
}

extern "C" int peercall_apm_configure(peercall_apm *a, const peercall_apm_config *cfg) {
	AudioProcessing *apm = a->apm;
	webrtc::EchoCancellation *ec = apm->echo_cancellation();
	int rc;
	// Drift compensation needs per-frame sample counts from the devices,
	// which we do not have; the extended filter copes with drift instead.
	if ((rc = ec->enable_drift_compensation(false)) != 0) return rc;
	if ((rc = ec->set_suppression_level(webrtc::EchoCancellation::kHighSuppression)) != 0) return rc;
	if ((rc = ec->enable_metrics(true)) != 0) return rc;
	if ((rc = ec->enable_delay_logging(true)) != 0) return rc;
	if ((rc = ec->Enable(cfg->echo_cancel != 0)) != 0) return rc;

	webrtc::NoiseSuppression *ns = apm->noise_suppression();
	if ((rc = ns->set_level(webrtc::NoiseSuppression::kHigh)) != 0) return rc;
	if ((rc = ns->Enable(cfg->noise_suppress != 0)) != 0) return rc;

	webrtc::GainControl *gc = apm->gain_control();
	if ((rc = gc->set_mode(webrtc::GainControl::kAdaptiveDigital)) != 0) return rc;
	if ((rc = gc->Enable(cfg->gain_control != 0)) != 0) return rc;

	return apm->high_pass_filter()->Enable(cfg->high_pass != 0);
}

extern "C" int peercall_apm_render(peercall_apm *a, const int16_t *pcm, size_t n) {
	if (n != a->frame) return AudioProcessing::kBadDataLengthError;
	fill(&a->render, pcm, n, a->rate);
	return a->apm->ProcessReverseStream(&a->render);
}

extern "C" int peercall_apm_capture(peercall_apm *a, int16_t *pcm, size_t n, int delay_ms) {
	if (n != a->frame) return AudioProcessing::kBadDataLengthError;
	fill(&a->capture, pcm, n, a->rate);
	// Required before every ProcessStream while the AEC is on; out of range
	// values are clamped and reported as a warning, which we ignore.
	int rc = a->apm->set_stream_delay_ms(delay_ms);
	if (rc != 0 && rc != AudioProcessing::kBadStreamParameterWarning) return rc;
	rc = a->apm->ProcessStream(&a->capture);
	if (rc != 0) return rc;
	memcpy(pcm, a->capture.data_, n * sizeof(int16_t));
	return 0;
}

extern "C" void peercall_apm_get_stats(peercall_apm *a, peercall_apm_stats *s) {
	memset(s, 0, sizeof(*s));
	s->speech_probability = -1;
	AudioProcessing *apm = a->apm;
	webrtc::EchoCancellation *ec = apm->echo_cancellation();
	if (ec->is_enabled()) {
		webrtc::EchoCancellation::Metrics m;
		if (ec->GetMetrics(&m) == 0) {
			s->echo_valid = 1;
			s->erl = m.echo_return_loss.average;
			s->erle = m.echo_return_loss_enhancement.average;
			s->erle_instant = m.echo_return_loss_enhancement.instant;
			s->rerl = m.residual_echo_return_loss.average;
			s->a_nlp = m.a_nlp.average;
		}
		int median = -1, std = -1;
		float poor = 0;
		if (ec->GetDelayMetrics(&median, &std, &poor) == 0 && median >= 0) {
			s->delay_valid = 1;
			s->delay_median_ms = median;
			s->delay_std_ms = std;
			s->fraction_poor_delays = poor;
		}
		s->has_echo = ec->stream_has_echo() ? 1 : 0;
	}
	if (apm->noise_suppression()->is_enabled()) {
		s->speech_probability = apm->noise_suppression()->speech_probability();
	}
}

extern "C" void peercall_apm_free(peercall_apm *a) {
	if (a == NULL) return;
	delete a->apm;
	delete a;
}
