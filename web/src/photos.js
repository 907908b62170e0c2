// Photo evidence 照片取证 (docs/PHOTOS.md): a picker that takes photos from the phone's
// camera (or files), shows previews and uploads them as staged photos (POST /api/v1/photos)
// when its form is sent, so the form can send their ids with the step; and the thumbnails
// of a hazard's steps in its history, a click showing the full image. <img> cannot send
// the token, so every image is fetched with it and shown from a blob: URL.
import { api, call, esc, toast } from './api.js';
import { t, addStrings, fmtDate } from './i18n.js';

addStrings({
  photos: ['照片', 'Photos'],
  photos_hint: ['最多 9 张，每张不超过 10 MB（JPEG、PNG、WebP）', 'Up to 9, 10 MB each (JPEG, PNG, WebP)'],
  photos_too_many: ['每一步最多 9 张照片', 'A step takes at most 9 photos'],
  photos_too_big: ['照片超过 10 MB：{name}', 'Photo over 10 MB: {name}'],
  photos_uploading: ['正在上传照片 {n}/{total}…', 'Uploading photo {n}/{total}…'],
  photo_far: ['距离过远', 'Far away'],
  photo_far_title: ['拍摄位置距隐患 {m} 米', 'Taken {m} m from the hazard'],
  photo_taken: ['拍摄时间', 'Taken'],
  photo_gps: ['拍摄位置', 'Position'],
  photo_distance: ['距离', 'Distance'],
  photo_no_exif: ['无拍摄信息', 'No EXIF time or position'],
  photo_close: ['关闭', 'Close'],
  photo_remove: ['移除', 'Remove'],
});

export const MAX_PHOTOS = 9;
const MAX_BYTES = 10 << 20;
const ACCEPT = 'image/jpeg,image/png,image/webp';

// photoPicker adds a photo field to form before its button row: `<input type=file
// id=inputId>` and previews in #<inputId>-previews. upload() sends the chosen files not yet
// uploaded and resolves with all their ids (a failed step keeps them, so a retry does not
// upload again); reset() empties it.
export function photoPicker(form, inputId) {
  const box = document.createElement('div');
  box.className = 'photo-picker';
  box.innerHTML = `<label><span data-i18n="photos">${esc(t('photos'))}</span>
    <input id="${esc(inputId)}" name="photos" type="file" accept="${ACCEPT}" capture="environment" multiple></label>
    <p class="muted" data-i18n="photos_hint">${esc(t('photos_hint'))}</p>
    <div id="${esc(inputId)}-previews" class="photo-previews"></div>`;
  const row = form.querySelector('.row');
  form.insertBefore(box, row);
  const input = box.querySelector('input');
  const previews = box.querySelector('.photo-previews');
  let chosen = []; // { file, url, id }

  function draw() {
    previews.innerHTML = '';
    chosen.forEach((c, i) => {
      const fig = document.createElement('figure');
      fig.className = 'photo-preview';
      fig.innerHTML = `<img src="${c.url}" alt="${esc(c.file.name)}" data-uploaded="${c.id ? 'true' : 'false'}">` +
        `<button type="button" class="photo-remove" data-i18n-title="photo_remove" title="${esc(t('photo_remove'))}">×</button>`;
      fig.querySelector('button').addEventListener('click', () => {
        URL.revokeObjectURL(c.url);
        chosen.splice(i, 1);
        draw();
      });
      previews.appendChild(fig);
    });
  }

  input.addEventListener('change', () => {
    for (const file of input.files) {
      if (chosen.length >= MAX_PHOTOS) {
        toast(t('photos_too_many'), 'error');
        break;
      }
      if (file.size > MAX_BYTES) {
        toast(t('photos_too_big', { name: file.name }), 'error');
        continue;
      }
      chosen.push({ file, url: URL.createObjectURL(file), id: 0 });
    }
    input.value = '';
    draw();
  });

  return {
    async upload() {
      let n = 0;
      for (const c of chosen) {
        n++;
        if (c.id) continue;
        toast(t('photos_uploading', { n, total: chosen.length }), 'info');
        // The type is sniffed by the server; the file's own type is only a hint.
        const ph = await call('/api/v1/photos', { method: 'POST', body: c.file, headers: { 'Content-Type': c.file.type || 'application/octet-stream' } });
        c.id = ph.id;
      }
      draw();
      return chosen.map((c) => c.id);
    },
    reset() {
      chosen.forEach((c) => URL.revokeObjectURL(c.url));
      chosen = [];
      draw();
    },
    count: () => chosen.length,
  };
}

// blobURL fetches an image with the token and returns an object URL for it.
const blobs = new Map();
async function blobURL(path) {
  if (blobs.has(path)) return blobs.get(path);
  const resp = await api(path);
  if (!resp.ok) throw new Error(`${resp.status}`);
  const url = URL.createObjectURL(await resp.blob());
  blobs.set(path, url);
  return url;
}

// stepPhotosHTML is the markup of one history step's thumbnails (filled by loadThumbs).
export function stepPhotosHTML(photos) {
  if (!photos || photos.length === 0) return '';
  return '<div class="photo-thumbs">' + photos.map((p) => {
    const far = p.far ? `<span class="photo-far" data-i18n="photo_far" title="${esc(t('photo_far_title', { m: Math.round(p.distance_m) }))}">${esc(t('photo_far'))}</span>` : '';
    return `<button type="button" class="photo-thumb" data-photo="${p.id}" data-far="${p.far ? 'true' : 'false'}">` +
      `<img alt="${esc(t('photos'))} ${p.id}" data-src="${esc(p.thumb_url)}" width="80">${far}</button>`;
  }).join('') + '</div>';
}

// loadThumbs fills the thumbnails under root and opens a photo on click; photos is every
// photo shown there, by id.
export function loadThumbs(root, photos) {
  const byId = new Map(photos.map((p) => [String(p.id), p]));
  for (const btn of root.querySelectorAll('.photo-thumb')) {
    const img = btn.querySelector('img');
    blobURL(img.dataset.src).then((u) => { img.src = u; img.dataset.loaded = 'true'; }).catch(() => { img.dataset.loaded = 'error'; });
    btn.addEventListener('click', () => openPhoto(byId.get(btn.dataset.photo)));
  }
}

// openPhoto shows the full image in #photo-viewer with its evidence.
async function openPhoto(p) {
  if (!p) return;
  let dlg = document.getElementById('photo-viewer');
  if (!dlg) {
    dlg = document.createElement('dialog');
    dlg.id = 'photo-viewer';
    dlg.innerHTML = '<figure><img id="photo-full" alt=""><figcaption id="photo-evidence"></figcaption></figure>' +
      `<div class="row"><button id="photo-close" type="button" data-i18n="photo_close">${esc(t('photo_close'))}</button></div>`;
    document.body.appendChild(dlg);
    dlg.querySelector('#photo-close').addEventListener('click', () => dlg.close());
  }
  const img = dlg.querySelector('#photo-full');
  img.removeAttribute('src');
  img.dataset.photo = String(p.id);
  img.dataset.loaded = 'false';
  const ev = [];
  if (p.taken_at) ev.push(`${t('photo_taken')}: ${fmtDate(p.taken_at)}`);
  if (p.gps) ev.push(`${t('photo_gps')}: ${p.gps.lon.toFixed(6)}, ${p.gps.lat.toFixed(6)}`);
  if (p.distance_m != null) ev.push(`${t('photo_distance')}: ${Math.round(p.distance_m)} m${p.far ? ' · ' + t('photo_far') : ''}`);
  dlg.querySelector('#photo-evidence').textContent = ev.length ? ev.join(' · ') : t('photo_no_exif');
  dlg.dataset.far = p.far ? 'true' : 'false';
  if (!dlg.open) dlg.showModal();
  try {
    img.src = await blobURL(p.url);
    img.dataset.loaded = 'true';
  } catch {
    img.dataset.loaded = 'error';
  }
}
