// One hazard in #panel: its fields, history and the lifecycle steps open to the caller
// (#hazard-actions button[data-to]); assigning asks for the plan.
import { call, esc, toast } from './api.js';
import { t, tv, fmtDate, fmtNum } from './i18n.js';
import { showPanel, panelLoading, panelError, kv } from './ui.js';
import { dossierButton } from './dossier.js'; // enterprise dossier
import { photoPicker, stepPhotosHTML, loadThumbs } from './photos.js';

// photos: the steps that carry photos.
const PHOTO_STEPS = ['rectifying', 'verified'];
const pickers = new WeakMap(); // #hazard-actions form -> its photo picker

// Options: onChanged(hazard) after a change; extra(hazard, reopen) returns an element to
// add below the history (district bureau: the 挂牌督办 form, web/src/district.js);
// steps: false leaves out the lifecycle steps (a role that makes none).
export async function openHazard(id, { onChanged, extra, steps = true } = {}) {
  panelLoading();
  let h;
  try {
    const path = `/api/v1/hazards/${encodeURIComponent(id)}`;
    const [hz, hist] = await Promise.all([call(path, { quiet: true }), call(path + '/history', { quiet: true })]);
    h = { ...hz, steps: hist.items };
  } catch (err) {
    panelError(err.message);
    return null;
  }
  renderHazard(h, onChanged, { extra, steps, reopen: () => openHazard(id, { onChanged, extra, steps }) });
  return h;
}

function renderHazard(h, onChanged, opts = {}) {
  showPanel((b) => {
    b.innerHTML = `<h3>${esc(t('hazard_title'))} ${esc(h.code)}</h3>` + kv([
      [t('level'), tv('lvl_', h.level) + (h.supervised ? ` · ${t('supervised')}` : '')],
      [t('status'), tv('status_', h.status)],
      [t('category'), h.category],
      [t('description'), h.description],
      [t('deadline'), h.deadline],
      [t('overdue'), h.overdue ? t('yes') : t('no')],
      [t('responsible'), h.responsible],
      [t('measures'), h.measures],
      [t('funds'), h.funds != null ? fmtNum(h.funds, 2) : null],
      [t('feature_kind'), h.feature_kind ? t('layer_' + h.feature_kind) : null],
      [t('feature_code'), h.feature_code],
      [t('reported_at'), fmtDate(h.reported_at)],
      [t('cell'), h.cell],
    ]) + (h.feature_kind === 'enterprises' && h.feature_code ? dossierButton(h.feature_code) : ''); // enterprise dossier
    // The history (GET .../history): who did each step, with the plan an assignment set.
    const hist = document.createElement('details');
    hist.id = 'hazard-history';
    hist.open = h.steps.length <= 6;
    hist.innerHTML = `<summary>${esc(t('history'))} (${h.steps.length})</summary><ol class="history">` +
      h.steps.map((s) => {
        const who = s.actor_name ? `${s.actor_name} (${s.actor})` : s.actor;
        const plan = ['responsible', 'deadline', 'measures', 'funds'].map((k) => [k, (s.details || {})[k]]).filter(([, v]) => v != null && v !== '')
          .map(([k, v]) => `${t(k)}: ${k === 'funds' ? fmtNum(v, 2) : v}`).join('; ');
        const what = s.action === 'hazard_escalate' ? t('escalated_step')
          : (s.from_status ? tv('status_', s.from_status) + ' → ' : '') + tv('status_', s.to_status);
        return `<li data-action="${esc(s.action)}">${esc(fmtDate(s.at))} · <b>${esc(who)}</b>: ` +
          `${esc(what)}` +
          `${s.note ? ' — ' + esc(s.note) : ''}${plan ? `<br><small>${esc(plan)}</small>` : ''}${stepPhotosHTML(s.photos)}</li>`;
      }).join('') + '</ol>';
    b.appendChild(hist);
    loadThumbs(hist, h.steps.flatMap((s) => s.photos || []));
    // district bureau (区安监局): its own actions instead of the lifecycle's steps
    if (opts.extra) b.appendChild(opts.extra(h, opts.reopen));
    if (opts.steps !== false) b.appendChild(actionsForm(h, onChanged));
  });
}

function actionsForm(h, onChanged) {
  const form = document.createElement('form');
  form.id = 'hazard-actions';
  form.className = 'form';
  form.dataset.id = h.id;
  const next = h.next || [];
  form.innerHTML = `<h4>${esc(t('actions'))}</h4>` + (next.length === 0 ? `<p class="muted">${esc(t('no_actions'))}</p>` : '');
  if (next.includes('assigned')) {
    const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
    form.insertAdjacentHTML('beforeend', `
      <label>${esc(t('responsible'))}<input name="responsible" value="${esc(h.responsible || '')}"></label>
      <label>${esc(t('deadline'))}<input name="deadline" type="date" min="${today}" value="${esc(h.deadline && h.deadline >= today ? h.deadline : '')}"></label>
      <label>${esc(t('measures'))}<textarea name="measures" rows="2">${esc(h.measures || '')}</textarea></label>
      <label>${esc(t('funds'))}<input name="funds" type="number" min="0" step="0.01" value="${h.funds ?? ''}"></label>`);
  }
  if (next.length) {
    form.insertAdjacentHTML('beforeend', `<label>${esc(t('note'))}<input name="note" maxlength="2000"></label>`);
    const row = document.createElement('div');
    row.className = 'row';
    for (const to of next) {
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.dataset.to = to;
      btn.textContent = t('to_' + to);
      btn.addEventListener('click', () => transition(h, to, form, onChanged));
      row.appendChild(btn);
    }
    form.appendChild(row);
    if (next.some((to) => PHOTO_STEPS.includes(to))) pickers.set(form, photoPicker(form, 'step-photos'));
  }
  form.addEventListener('submit', (e) => e.preventDefault());
  return form;
}

async function transition(h, to, form, onChanged) {
  const fd = new FormData(form);
  const body = { to, version: h.version };
  const note = (fd.get('note') || '').trim();
  if (note) body.note = note;
  if (to === 'assigned') {
    for (const k of ['responsible', 'deadline', 'measures']) {
      const v = (fd.get(k) || '').trim();
      if (v) body[k] = v;
    }
    const funds = fd.get('funds');
    if (funds !== null && funds !== '') body.funds = Number(funds);
  }
  try {
    const photos = pickers.get(form);
    if (photos && PHOTO_STEPS.includes(to) && photos.count() > 0) body.photos = await photos.upload();
    const out = await call(`/api/v1/hazards/${h.id}/transition`, { method: 'POST', body });
    toast(t('moved_to', { s: tv('status_', out.status) }), 'ok');
    if (onChanged) onChanged(out);
    await openHazard(h.id, { onChanged });
  } catch {
    // call() has shown the server's words in #toast; the panel keeps the form.
  }
}
