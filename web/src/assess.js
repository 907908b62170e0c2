// Officer assessment 考核 (docs/ASSESSMENT.md): for street offices, district users, planners
// and admins, a table over the map opened from the top bar (#assess-toggle): a month, a
// level (officer / unit / street / district), sortable columns, the total row and the
// workbook download, all from GET /api/v1/assessment within the caller's own scope.
import { call, download, esc, qs } from './api.js';
import { addStrings, t, fmtPct, onLangChange } from './i18n.js';

addStrings({
  assess_title: ['考核', 'Assessment'],
  assess_heading: ['网格化监管考核', 'Grid supervision assessment'],
  assess_month: ['月份', 'Month'],
  assess_level: ['层级', 'Level'],
  assess_by_officer: ['网格员', 'Officer'],
  assess_by_unit: ['网格', 'Grid unit'],
  assess_by_street: ['街道', 'Street'],
  assess_by_district: ['区', 'District'],
  assess_scope_all: ['全市', 'Whole city'],
  assess_scope_district: ['区 {code} {name}', 'District {code} {name}'],
  assess_scope_street: ['街道 {code} {name}', 'Street {code} {name}'],
  assess_today: ['当前逾期按 {d} 计', 'Overdue counted on {d}'],
  assess_unassigned: ['（未分配网格员）', '(no officer)'],
  assess_col_code_officer: ['账号', 'Username'],
  assess_col_name_officer: ['姓名', 'Name'],
  assess_col_code_unit: ['网格编码', 'Unit code'],
  assess_col_name_unit: ['网格名称', 'Unit'],
  assess_col_code_street: ['街道代码', 'Street code'],
  assess_col_name_street: ['街道名称', 'Street'],
  assess_col_code_district: ['区代码', 'District code'],
  assess_col_name_district: ['区名称', 'District'],
  assess_col_street_code: ['所属街道', 'In street'],
  assess_col_officer: ['网格员', 'Officer'],
  assess_col_units: ['网格数', 'Units'],
  assess_col_enterprises: ['企业数', 'Enterprises'],
  assess_col_due: ['应检企业', 'Due'],
  assess_col_done: ['按期检查', 'Inspected on time'],
  assess_col_done_rate: ['按期检查率', 'On-time rate'],
  assess_col_inspections: ['检查次数', 'Inspections'],
  assess_col_located: ['定位签到', 'Located check-ins'],
  assess_col_located_rate: ['定位签到率', 'Located rate'],
  assess_col_hazards_found: ['发现隐患', 'Hazards found'],
  assess_col_rectified: ['整改验收', 'Rectified'],
  assess_col_rectified_on_time: ['按期整改', 'By the deadline'],
  assess_col_on_time_rate: ['按期整改率', 'By-deadline rate'],
  assess_col_overdue_now: ['当前逾期', 'Overdue now'],
  assess_note: ['各项定义：应检企业按风险等级（重大/较大每月，其他每季度）；按期检查为当月检查；当前逾期为今天已过整改期限且未验收的隐患。',
    'Due: by risk level (重大/较大 monthly, others quarterly); on time: inspected within the month; overdue now: past the deadline today and not verified.'],
  assess_sort: ['点击排序', 'Click to sort'],
});

const ROLES = ['street', 'district', 'admin', 'planner'];
const FIGURES = ['enterprises', 'due', 'done', 'done_rate', 'inspections', 'located', 'located_rate',
  'hazards_found', 'rectified', 'rectified_on_time', 'on_time_rate', 'overdue_now'];
const RATES = new Set(['done_rate', 'located_rate', 'on_time_rate']);
// KEYS are each level's leading columns: [field, label key].
const KEYS = {
  officer: [['code', 'assess_col_code_officer'], ['name', 'assess_col_name_officer'], ['units', 'assess_col_units']],
  unit: [['code', 'assess_col_code_unit'], ['name', 'assess_col_name_unit'], ['street_code', 'assess_col_street_code'], ['officer', 'assess_col_officer']],
  street: [['code', 'assess_col_code_street'], ['name', 'assess_col_name_street'], ['units', 'assess_col_units']],
  district: [['code', 'assess_col_code_district'], ['name', 'assess_col_name_district'], ['units', 'assess_col_units']],
};
const NUMERIC = new Set(['units', ...FIGURES]);
const $ = (id) => document.getElementById(id);

let answer = null;
let sortKey = '';
let sortDesc = false;

// initAssess shows #assess-toggle to the roles that may read the assessment and wires the page.
export function initAssess(me, hooks) {
  if (!ROLES.includes(me.role)) return;
  const toggle = $('assess-toggle');
  toggle.hidden = false;
  toggle.addEventListener('click', () => show($('assess-page').hidden));
  $('assess-close').addEventListener('click', () => show(false));
  const month = $('assess-month');
  month.max = currentMonth();
  if (!month.value) month.value = currentMonth();
  // A refusal is shown in #toast by call(); the table keeps its last answer.
  const reload = () => load().catch(() => {});
  $('assess-form').addEventListener('submit', (e) => { e.preventDefault(); reload(); });
  month.addEventListener('change', reload);
  $('assess-by').addEventListener('change', () => { sortKey = ''; reload(); });
  $('assess-xlsx').addEventListener('click', () => download('/api/v1/assessment' + qs({ month: month.value, format: 'xlsx' }),
    `assessment-${month.value}.xlsx`));
  const sortBy = (e) => {
    const th = e.target.closest('th[data-sort]');
    if (!th || (e.type === 'keydown' && e.key !== 'Enter' && e.key !== ' ')) return;
    e.preventDefault();
    if (sortKey === th.dataset.sort) sortDesc = !sortDesc;
    else { sortKey = th.dataset.sort; sortDesc = NUMERIC.has(sortKey); }
    draw();
    $('assess-table').querySelector(`th[data-sort="${sortKey}"]`).focus();
  };
  $('assess-table').querySelector('thead').addEventListener('click', sortBy);
  $('assess-table').querySelector('thead').addEventListener('keydown', sortBy);
  onLangChange(draw);
  if (hooks) hooks.assessment = () => answer;
}

// currentMonth is this month in Shanghai, YYYY-MM.
function currentMonth() {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' }).formatToParts(new Date());
  const get = (k) => parts.find((p) => p.type === k).value;
  return `${get('year')}-${get('month')}`;
}

async function show(open) {
  $('assess-page').hidden = !open;
  $('assess-toggle').setAttribute('aria-expanded', open ? 'true' : 'false');
  if (open && !answer) await load().catch(() => {});
}

export async function load() {
  const page = $('assess-page');
  page.dataset.state = 'loading';
  try {
    answer = await call('/api/v1/assessment' + qs({ month: $('assess-month').value, by: $('assess-by').value }));
    page.dataset.month = answer.month;
    page.dataset.by = answer.by;
    page.dataset.state = 'ok';
  } catch (err) {
    page.dataset.state = 'error';
    throw err;
  }
  draw();
}

function cellText(field, v, r) {
  if (RATES.has(field)) return fmtPct(v);
  if (field === 'code' && answer.by === 'officer' && !v && r !== answer.total) return t('assess_unassigned');
  return v == null ? '' : String(v);
}

function compare(a, b) {
  const x = a[sortKey], y = b[sortKey];
  if (x == null && y == null) return 0;
  if (x == null) return 1; // empty rates last, whichever the direction
  if (y == null) return -1;
  const c = NUMERIC.has(sortKey) ? x - y : String(x).localeCompare(String(y), 'zh-CN');
  return sortDesc ? -c : c;
}

function draw() {
  if (!answer) return;
  const by = answer.by;
  const cols = [...KEYS[by], ...FIGURES.map((f) => [f, 'assess_col_' + f])];
  const scope = answer.street ? t('assess_scope_street', { code: answer.street, name: answer.area_name })
    : answer.district ? t('assess_scope_district', { code: answer.district, name: answer.area_name }) : t('assess_scope_all');
  $('assess-scope').textContent = `${answer.month} · ${scope} · ${t('assess_today', { d: answer.today })}`;
  const head = $('assess-table').querySelector('thead tr');
  head.innerHTML = cols.map(([f, label]) => {
    const mark = sortKey === f ? `<span class="sort-mark" aria-hidden="true">${sortDesc ? ' ▼' : ' ▲'}</span>` : '';
    const aria = sortKey === f ? (sortDesc ? 'descending' : 'ascending') : 'none';
    return `<th data-sort="${f}" tabindex="0" aria-sort="${aria}" title="${esc(t('assess_sort'))}">${esc(t(label))}${mark}</th>`;
  }).join('');
  const rows = sortKey ? [...answer.rows].sort(compare) : answer.rows;
  const line = (r, total) => cols.map(([f], i) => {
    let v = r[f];
    if (total && !NUMERIC.has(f)) v = i === 0 ? t('total') : '';
    const value = NUMERIC.has(f) ? ` data-metric="${f}" data-value="${v == null ? '' : v}"` : ` data-field="${f}"`;
    return `<td${value}>${esc(total && !NUMERIC.has(f) ? v : cellText(f, v, r))}</td>`;
  }).join('');
  $('assess-table').querySelector('tbody').innerHTML = rows.map((r) => `<tr data-code="${esc(r.code)}">${line(r, false)}</tr>`).join('');
  $('assess-table').querySelector('tfoot').innerHTML = `<tr class="total">${line(answer.total, true)}</tr>`;
}
