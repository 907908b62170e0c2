// How the attributes of supervised things read in the details: enumerations the dictionary
// knows are translated, booleans become words, the rest shows as stored.
import { t, tv } from './i18n.js';

// attrValue returns the text for attribute key; long is for the details list, where a
// false flag reads "no" (in the short summaries only a true flag shows, by its name).
export function attrValue(key, v, long = false) {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v === 'boolean' || v === 'true' || v === 'false') {
    const on = v === true || v === 'true';
    if (long) return on ? t('yes') : t('no');
    return on ? t('f_' + key) : '';
  }
  switch (key) {
    case 'risk_level': return tv('risk_', v);
    case 'medium': case 'class': return tv('', v);
    case 'status': return ['existing', 'planned'].includes(v) ? t(v) : String(v);
    default: return String(v);
  }
}
