// Builds the map page into dist/, which web/embed.go embeds in the binary:
//   index.html, app.js (+ app.css), maplibre-gl-worker.mjs, fonts/.
// Run by `make build` (npm run build). Nothing here or in the page reaches the internet.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const out = 'dist';
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) {
  if (f !== '.gitkeep') rmSync(join(out, f), { recursive: true, force: true });
}

// A Latin font for the digits and letters in map labels (e.g. 第1居委会): MapLibre draws
// CJK with the browser's fonts (localIdeographFontFamily) and everything else from the
// style's font-faces. DejaVu Sans (free licence) comes from the pinned npm package
// dejavu-fonts-ttf, so a fresh machine needs no system fonts; a system copy is the fallback.
const fontCandidates = [
  process.env.SAFEGRID_LABEL_FONT,
  'node_modules/dejavu-fonts-ttf/ttf/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
].filter(Boolean);
const font = fontCandidates.find((p) => existsSync(p) && statSync(p).isFile());
let fontURL = '';
if (font) {
  mkdirSync(join(out, 'fonts'), { recursive: true });
  copyFileSync(font, join(out, 'fonts', 'label.ttf'));
  fontURL = '/assets/fonts/label.ttf';
} else {
  console.warn('build: no DejaVuSans.ttf found (set SAFEGRID_LABEL_FONT); map labels draw CJK only');
}

await esbuild.build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'linked',
  outdir: out,
  define: { __LABEL_FONT__: JSON.stringify(fontURL) },
  logLevel: 'warning',
});

// MapLibre 6 runs its workers as ES modules loaded from a URL of their own.
copyFileSync('node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs', join(out, 'maplibre-gl-worker.mjs'));
copyFileSync('src/index.html', join(out, 'index.html'));
console.log('build: web/dist written');
