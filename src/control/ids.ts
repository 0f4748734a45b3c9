/**
 * Identifiers Hangar hands out, in Fly's shapes (reference §1a "Machine object", "Volume
 * object"): 14-hex machine ids, `vol_` + 16 lowercase alphanumerics volume ids, ULID
 * instance ids (so versions and event ids sort by time), adjective-noun-NNNN machine names.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { ulid } from 'ulid';

/** A machine id: 14 lowercase hex digits, e.g. `1857156b526dd8`. */
export function newMachineId(): string {
  return randomBytes(7).toString('hex');
}

const VOL_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A volume id: `vol_` + 16 lowercase alphanumerics. */
export function newVolumeId(): string {
  let s = 'vol_';
  for (let i = 0; i < 16; i++) s += VOL_ALPHABET[randomInt(VOL_ALPHABET.length)];
  return s;
}

/** A ULID (26 chars, time-ordered): instance ids, event ids, request ids. */
export function newUlid(): string {
  return ulid();
}

const ADJECTIVES = [
  'aged', 'ancient', 'autumn', 'billowing', 'bitter', 'black', 'blue', 'bold', 'broken', 'calm',
  'cold', 'cool', 'crimson', 'curly', 'damp', 'dark', 'dawn', 'delicate', 'divine', 'dry',
  'empty', 'falling', 'floral', 'fragrant', 'frosty', 'gentle', 'green', 'hidden', 'holy', 'icy',
  'late', 'lingering', 'little', 'lively', 'long', 'misty', 'morning', 'muddy', 'nameless', 'old',
  'patient', 'polished', 'proud', 'purple', 'quiet', 'red', 'restless', 'rough', 'shy', 'silent',
  'small', 'snowy', 'solitary', 'sparkling', 'spring', 'still', 'summer', 'twilight', 'wandering', 'weathered',
  'white', 'wild', 'winter', 'wispy', 'withered', 'young',
] as const;

const NOUNS = [
  'bird', 'breeze', 'brook', 'bush', 'butterfly', 'cherry', 'cloud', 'darkness', 'dawn', 'dew',
  'dream', 'dust', 'feather', 'field', 'fire', 'firefly', 'flower', 'fog', 'forest', 'frog',
  'frost', 'glade', 'glitter', 'grass', 'haze', 'hill', 'lake', 'leaf', 'meadow', 'moon',
  'morning', 'mountain', 'night', 'paper', 'pine', 'pond', 'rain', 'resonance', 'river', 'sea',
  'shadow', 'shape', 'silence', 'sky', 'smoke', 'snow', 'snowflake', 'sound', 'star', 'sun',
  'sunset', 'surf', 'thunder', 'tree', 'violet', 'voice', 'water', 'waterfall', 'wave', 'wildflower',
  'wind', 'wood',
] as const;

/** A random machine name like `aged-thunder-7371`. */
export function newMachineName(): string {
  const adj = ADJECTIVES[randomInt(ADJECTIVES.length)] as string;
  const noun = NOUNS[randomInt(NOUNS.length)] as string;
  return `${adj}-${noun}-${String(randomInt(10_000)).padStart(4, '0')}`;
}
