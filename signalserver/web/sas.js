// Short authentication string (docs/ice-policy.md, version 1), the same
// algorithm and words as call.SAS.

// SAS_WORDS must equal call/sas_words.go (signalserver/web_test.go checks).
// sas-words:begin
export const SAS_WORDS = [
	'acorn', 'actor', 'adobe', 'agent', 'alarm', 'album', 'alley', 'amber', 'anchor', 'angel',
	'ankle', 'apple', 'apron', 'arena', 'armor', 'arrow', 'aspen', 'atlas', 'attic', 'autumn',
	'badge', 'bagel', 'baker', 'bamboo', 'banjo', 'barn', 'basin', 'basket', 'beach', 'beacon',
	'beard', 'beaver', 'berry', 'bison', 'blade', 'blanket', 'blossom', 'boat', 'bonnet', 'bottle',
	'boulder', 'bracket', 'branch', 'bread', 'breeze', 'brick', 'bridge', 'brook', 'broom', 'bucket',
	'buffalo', 'bugle', 'butter', 'button', 'cabin', 'cactus', 'camel', 'candle', 'canoe', 'canyon',
	'carpet', 'carrot', 'castle', 'cedar', 'cello', 'chalk', 'cherry', 'chess', 'chimney', 'cider',
	'circus', 'clock', 'cloud', 'clover', 'cobra', 'cocoa', 'comet', 'copper', 'coral', 'cotton',
	'cougar', 'crane', 'crayon', 'cricket', 'crown', 'crystal', 'curtain', 'daisy', 'dancer', 'delta',
	'desert', 'diamond', 'dinner', 'dolphin', 'donkey', 'dragon', 'drum', 'eagle', 'easel', 'echo',
	'elbow', 'ember', 'engine', 'falcon', 'feather', 'fence', 'fern', 'ferry', 'fiddle', 'flame',
	'flute', 'forest', 'fossil', 'fox', 'garden', 'garlic', 'geyser', 'ginger', 'glacier', 'globe',
	'goose', 'grape', 'gravel', 'guitar', 'hammer', 'harbor', 'harp', 'hazel', 'helmet', 'heron',
	'hollow', 'honey', 'horizon', 'hornet', 'island', 'ivory', 'jacket', 'jaguar', 'jasmine', 'jelly',
	'jewel', 'jungle', 'kayak', 'kettle', 'kiwi', 'koala', 'ladder', 'lagoon', 'lantern', 'lemon',
	'leopard', 'lily', 'lizard', 'llama', 'lobster', 'locket', 'lotus', 'magnet', 'mango', 'maple',
	'marble', 'meadow', 'melon', 'meteor', 'mirror', 'mitten', 'monkey', 'moose', 'mosaic', 'muffin',
	'mustard', 'needle', 'nest', 'nickel', 'noodle', 'nutmeg', 'oasis', 'ocean', 'olive', 'onion',
	'orbit', 'orchid', 'otter', 'oyster', 'paddle', 'palace', 'panda', 'panther', 'parrot', 'peach',
	'pebble', 'pelican', 'pepper', 'piano', 'pigeon', 'pillow', 'pine', 'planet', 'plum', 'pocket',
	'pony', 'poppy', 'potato', 'prism', 'puddle', 'pumpkin', 'puzzle', 'quail', 'quartz', 'quilt',
	'rabbit', 'radar', 'radish', 'raven', 'ribbon', 'river', 'robin', 'rocket', 'saddle', 'salmon',
	'sandal', 'saturn', 'scarf', 'shadow', 'shell', 'silver', 'sketch', 'sparrow', 'spider', 'spoon',
	'squid', 'stable', 'statue', 'stone', 'sunset', 'swan', 'table', 'teapot', 'tiger', 'tomato',
	'topaz', 'tulip', 'tunnel', 'turtle', 'valley', 'velvet', 'violin', 'volcano', 'wagon', 'walnut',
	'walrus', 'whale', 'willow', 'window', 'yacht', 'zebra'
];
// sas-words:end

const SAS_LABEL = 'peercall-sas-v1\n';

// normalizeFingerprint turns "sha-256 ab:cd:..." into "sha-256 AB:CD:..."
// (call.NormalizeFingerprint); null if it is not a fingerprint.
export function normalizeFingerprint(fp) {
  const fields = fp.trim().split(/\s+/);
  if (fields.length !== 2) return null;
  const algo = fields[0].toLowerCase();
  const parts = fields[1].toUpperCase().split(':');
  if (!parts.every((p) => /^[0-9A-F]{2}$/.test(p))) return null;
  if (algo === 'sha-256' && parts.length !== 32) return null;
  return algo + ' ' + parts.join(':');
}

// parseFingerprint returns the normalized DTLS fingerprint of an SDP,
// preferring sha-256 (call.ParseFingerprint); null if there is none or
// one does not parse.
export function parseFingerprint(sdp) {
  let first = null;
  for (const raw of sdp.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('a=fingerprint:')) continue;
    const n = normalizeFingerprint(line.slice('a=fingerprint:'.length));
    if (n === null) return null;
    if (n.startsWith('sha-256 ')) return n;
    if (first === null) first = n;
  }
  return first;
}

// sas derives {digits, words} from two fingerprints in either order
// (call.SAS).
export async function sas(fpA, fpB) {
  let a = normalizeFingerprint(fpA) ?? fpA.trim();
  let b = normalizeFingerprint(fpB) ?? fpB.trim();
  if (b < a) [a, b] = [b, a];
  const data = new TextEncoder().encode(SAS_LABEL + a + '\n' + b);
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  const n = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
  const digits = String(n % 1000000).padStart(6, '0');
  const words = [SAS_WORDS[h[4]], SAS_WORDS[h[5]], SAS_WORDS[h[6]], SAS_WORDS[h[7]]];
  return { digits, words };
}
