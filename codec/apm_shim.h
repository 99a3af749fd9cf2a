// C API over the WebRTC audio processing module (C++), for cgo. One handle
// is one AudioProcessing instance; the caller serializes all calls on it.
#ifndef PEERCALL_APM_SHIM_H
#define PEERCALL_APM_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct peercall_apm peercall_apm;

typedef struct {
	int echo_cancel;
	int noise_suppress;
	int gain_control;
	int high_pass;
} peercall_apm_config;

typedef struct {
	int echo_valid; /* the AEC has produced metrics */
	int erl, erle, rerl, a_nlp; /* long-term averages, dB */
	int erle_instant;
	int delay_valid;
	int delay_median_ms, delay_std_ms;
	float fraction_poor_delays;
	int has_echo;
	float speech_probability; /* -1 when NS is off */
} peercall_apm_stats;

/* Creates a mono instance at rate Hz (8000, 16000, 32000 or 48000) with every
 * component off. On failure returns NULL and sets *err to the module's error
 * code. */
peercall_apm *peercall_apm_new(int rate, int *err);
/* Turns components on or off; returns 0 or the module's error code. */
int peercall_apm_configure(peercall_apm *a, const peercall_apm_config *cfg);
/* Analyzes one 10 ms frame of what the speaker plays. */
int peercall_apm_render(peercall_apm *a, const int16_t *pcm, size_t n);
/* Processes one 10 ms capture frame in place. */
int peercall_apm_capture(peercall_apm *a, int16_t *pcm, size_t n, int delay_ms);
void peercall_apm_get_stats(peercall_apm *a, peercall_apm_stats *s);
void peercall_apm_free(peercall_apm *a);

#ifdef __cplusplus
}
#endif

#endif
