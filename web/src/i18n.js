// One dictionary for every label on the page: zh-CN (the default) and English. Static
// elements carry data-i18n="key" (text), data-i18n-title or data-i18n-placeholder; views
// that draw text themselves call t() and re-render on onLangChange.

const dict = {
  app_title: ['SafeGrid 安全网格', 'SafeGrid'],
  lang_switch: ['English', '中文'],
  logout: ['退出', 'Log out'],
  menu: ['菜单', 'Menu'],
  busy: ['处理中…', 'Working…'],
  login_title: ['登录', 'Sign in'],
  username: ['用户名', 'Username'],
  password: ['密码', 'Password'],
  login: ['登录', 'Sign in'],
  login_hint: ['网格员、街道办、规划和管理员各自看到自己的视图。', 'Grid officers, street offices, planners and admins each see their own view.'],
  login_failed: ['登录失败', 'Sign-in failed'],
  role_officer: ['网格员', 'Grid officer'],
  role_street: ['街道办', 'Street office'],
  role_planner: ['规划', 'Planner'],
  role_admin: ['管理员', 'Admin'],
  close: ['关闭', 'Close'],
  none: ['无', 'None'],
  all: ['全部', 'All'],
  apply: ['查询', 'Apply'],
  total: ['合计', 'Total'],
  prev: ['上一页', 'Previous'],
  next: ['下一页', 'Next'],
  page_of: ['第 {a}–{b} 条，共 {n} 条', '{a}–{b} of {n}'],
  saved: ['已保存', 'Saved'],
  zoom_in_cells: ['放大地图（11 级以上）查看网格格子', 'Zoom in (level 11+) to see the grid cells'],

  // Officer
  officer_title: ['我的网格', 'My grid'],
  my_units: ['网格单元', 'Grid units'],
  due_title: ['待检查企业', 'Due for inspection'],
  due_total: ['共', 'In all'],
  due_never: ['从未检查', 'never inspected'],
  due_since: ['应于 {d} 检查', 'due since {d}'],
  every_month: ['每月', 'monthly'],
  every_quarter: ['每季度', 'quarterly'],
  inspection_title: ['记录检查', 'Record an inspection'],
  enterprise: ['企业（统一社会信用代码）', 'Enterprise (USCC)'],
  result: ['结果', 'Result'],
  result_passed: ['合格', 'Passed'],
  result_hazards_found: ['发现隐患', 'Hazards found'],
  result_closed_down: ['已停业', 'Closed down'],
  result_not_found: ['未找到', 'Not found'],
  hazards_found: ['发现隐患数', 'Hazards found'],
  notes: ['备注', 'Notes'],
  location: ['位置', 'Location'],
  pick_on_map: ['在地图上选点', 'Pick on the map'],
  picking: ['请点击地图…', 'Click the map…'],
  submit_inspection: ['提交检查记录', 'Record inspection'],
  inspection_saved: ['检查记录已保存', 'Inspection recorded'],
  hazard_report_title: ['上报隐患', 'Report a hazard'],
  submit_hazard: ['上报', 'Report'],
  hazard_saved: ['隐患已上报：{code}', 'Hazard reported: {code}'],
  need_location: ['请先在地图上选点', 'Pick a location on the map first'],
  feature_kind: ['关联对象类型', 'Belongs to (kind)'],
  feature_code: ['关联对象编码', 'Belongs to (code)'],
  cell: ['网格格子', 'Cell'],
  unit: ['网格', 'Grid unit'],
  open_hazards: ['未销号隐患', 'Open hazards'],
  no_open_hazards: ['无未销号隐患', 'No open hazards'],
  contents: ['格内对象', 'In this cell'],
  details: ['详情', 'Details'],
  count: ['数量', 'Count'],
  aggregated: ['{n} 个（放大查看）', '{n} (zoom in)'],
  legend: ['图例', 'Legend'],
  my_cells: ['我的网格格子', 'My cells'],

  // Layers and their values
  layer_enterprises: ['企业', 'Enterprises'],
  layer_pipelines: ['油气管道', 'Pipelines'],
  layer_gas_occupancy_sites: ['燃气管道占压', 'Gas-pipe occupancy sites'],
  layer_underground_spaces: ['地下空间', 'Underground spaces'],
  layer_fire_stations: ['消防站', 'Fire stations'],
  layer_fishing_ports: ['渔港', 'Fishing ports'],
  layer_hazards: ['未销号隐患', 'Open hazards'],
  risk_重大: ['重大风险', 'Major risk'],
  risk_较大: ['较大风险', 'Significant risk'],
  risk_一般: ['一般风险', 'General risk'],
  risk_低: ['低风险', 'Low risk'],
  level_general: ['一般', 'General'],
  level_major: ['重大', 'Major'],
  'lvl_一般': ['一般', 'General'],
  'lvl_重大': ['重大', 'Major'],
  gas: ['燃气', 'Gas'],
  oil: ['石油', 'Oil'],

  // Hazards
  level: ['等级', 'Level'],
  category: ['类别', 'Category'],
  description: ['描述', 'Description'],
  deadline: ['整改期限', 'Deadline'],
  status: ['状态', 'Status'],
  code: ['编号', 'Code'],
  community: ['居委/村', 'Community'],
  reported_at: ['上报时间', 'Reported'],
  responsible: ['责任人', 'Responsible'],
  measures: ['整改措施', 'Measures'],
  funds: ['资金（元）', 'Funds (yuan)'],
  note: ['说明', 'Note'],
  history: ['处理记录', 'History'],
  supervised: ['挂牌督办', 'Listed for supervision'],
  overdue: ['逾期', 'Overdue'],
  yes: ['是', 'yes'],
  no: ['否', 'no'],
  status_reported: ['上报', 'Reported'],
  status_registered: ['立案', 'Registered'],
  status_assigned: ['派遣', 'Assigned'],
  status_rectifying: ['整改', 'Rectifying'],
  status_verified: ['验收', 'Verified'],
  status_closed: ['销号', 'Closed'],
  to_registered: ['立案', 'Register'],
  to_assigned: ['派遣', 'Assign'],
  to_rectifying: ['开始整改 / 退回整改', 'Rectify / send back'],
  to_verified: ['验收', 'Verify'],
  to_closed: ['销号', 'Close'],
  actions: ['处理', 'Actions'],
  no_actions: ['当前角色无可用操作', 'No steps open to your role'],
  moved_to: ['已变更为：{s}', 'Moved to: {s}'],

  // Street
  street_title: ['街道隐患', 'Street hazards'],
  communities_title: ['各居委/村', 'Communities'],
  hazards: ['隐患', 'Hazards'],
  rect_rate: ['整改率', 'Rectified'],
  filters_title: ['筛选', 'Filters'],
  from: ['上报日期从', 'Reported from'],
  to: ['至', 'to'],
  overdue_only: ['仅逾期', 'Overdue only'],
  export_xlsx: ['导出 Excel', 'Export Excel'],
  export_csv: ['导出 CSV', 'Export CSV'],
  exported: ['已导出 {n} 条', 'Exported {n} rows'],
  street_total: ['全街道', 'Whole street'],
  no_community: ['（未关联居委/村）', '(no community)'],

  // Planner
  planner_title: ['消防站覆盖分析', 'Fire-station coverage'],
  coverage_title: ['覆盖分析', 'Coverage'],
  minutes: ['时间（分钟）', 'Minutes'],
  speed: ['速度（km/h）', 'Speed (km/h)'],
  detour: ['绕行系数', 'Detour factor'],
  planned_on: ['计入规划消防站', 'Count planned stations'],
  run_coverage: ['运行覆盖分析', 'Run coverage'],
  cov_summary: ['可达半径 {r} 米；计入消防站 {n} 座', 'Reach {r} m straight-line; {n} stations counted'],
  area: ['区域', 'Area'],
  overall: ['全市', 'Shanghai'],
  m_enterprises: ['企业', 'Enterprises'],
  m_high_risk: ['重大/较大企业', 'High-risk enterprises'],
  m_underground: ['地下空间', 'Underground spaces'],
  m_gas_sites: ['占压点', 'Occupancy sites'],
  m_area: ['面积', 'Area'],
  covered: ['已覆盖', 'Covered'],
  uncovered: ['未覆盖', 'Not covered'],
  service_area: ['消防站可达范围', 'Station reach'],
  service_areas: ['消防站辖区（最近站）', 'Station districts (nearest station)'],
  station_existing: ['现有消防站', 'Existing station'],
  station_planned: ['规划消防站', 'Planned station'],
  station_added: ['新增（假设）', 'Added (what-if)'],
  station_off: ['已关闭（假设）', 'Left out (what-if)'],
  station_type: ['新站类型', 'New station type'],
  st_class1: ['一级普通', 'Class 1'],
  st_class2: ['二级普通', 'Class 2'],
  st_small: ['小型', 'Small'],
  st_special: ['特勤', 'Special service'],
  st_logistics: ['战勤保障', 'Logistics'],
  whatif_title: ['假设分析', 'What if'],
  whatif_add: ['点击地图添加消防站', 'Click the map to add a station'],
  whatif_adding: ['添加中：点击地图（再按一次结束）', 'Adding: click the map (press again to stop)'],
  whatif_clear: ['清除新增', 'Clear additions'],
  whatif_hint: ['取消勾选即关闭该站；修改后重新运行覆盖分析。', 'Untick a station to leave it out; re-run the coverage after a change.'],
  filter_stations: ['筛选消防站', 'Filter stations'],
  run_first: ['请先运行覆盖分析', 'Run the coverage first'],
  service_km2: ['服务面积 {a} km²（上限 {c}）', 'service area {a} km² (cap {c})'],
  siting_title: ['新站选址', 'New station siting'],
  siting_k: ['新增站数 k', 'New stations k'],
  run_siting: ['运行选址', 'Run siting'],
  siting_summary: ['加权覆盖率 {b} → {a}（上界 {u}），候选 {c} 个，用时 {s} 秒', 'Weighted coverage {b} → {a} (bound {u}), {c} candidates, {s} s'],
  location_area: ['位置', 'Location'],
  gain: ['新增覆盖（权重）', 'Gain (weight)'],
  gain_share: ['占比', 'Share'],
  proposed_site: ['建议站址', 'Proposed site'],
  clusters_title: ['隐患聚类（DBSCAN）', 'Hazard clusters (DBSCAN)'],
  eps_m: ['半径（米）', 'Radius (m)'],
  min_points: ['最少隐患数', 'Min. hazards'],
  run_clusters: ['运行聚类', 'Run clustering'],
  clusters_summary: ['{n} 个聚类（半径 {e} 米，最少 {m} 个）', '{n} clusters (radius {e} m, at least {m})'],
  cluster: ['聚类', 'Cluster'],
  members: ['隐患数', 'Hazards'],
  top_category: ['主要类别', 'Main category'],
  hotspots_title: ['热点分析（Gi*）', 'Hot spots (Gi*)'],
  resolution: ['H3 分辨率', 'H3 resolution'],
  k_ring: ['邻域步数 k', 'Neighbourhood k'],
  weighted: ['按等级加权', 'Weight by level'],
  run_hotspots: ['运行热点分析', 'Run hot spots'],
  hotspots_summary: ['{n} 个格子，热点 {h} 个，冷点 {c} 个（分辨率 {r}，k={k}）', '{n} cells, {h} hot, {c} cold (resolution {r}, k={k})'],
  hot99: ['热点 99%', 'Hot 99%'],
  hot95: ['热点 95%', 'Hot 95%'],
  hot90: ['热点 90%', 'Hot 90%'],
  notsig: ['不显著', 'Not significant'],
  cold: ['冷点', 'Cold spot'],
  clusters_layer: ['隐患聚类', 'Hazard clusters'],
  hotspots_layer: ['隐患热点', 'Hazard hot spots'],
  sites_layer: ['建议站址', 'Proposed sites'],

  // Admin
  admin_title: ['网格管理', 'Grid administration'],
  street_code: ['街道代码', 'Street code'],
  units_title: ['网格单元', 'Grid units'],
  officer: ['网格员', 'Officer'],
  cells: ['格子', 'Cells'],
  units: ['网格', 'Units'],
  weighted_load: ['加权', 'Weighted'],
  no_officer: ['（无）', '(none)'],
  audit_title: ['网格覆盖审计', 'Grid coverage audit'],
  audit_unsupervised: ['未纳入网格的企业', 'Enterprises outside assigned units'],
  audit_communities: ['未覆盖的居委/村', 'Communities not covered'],
  audit_no_officer: ['无网格员的网格', 'Units without an officer'],
  audit_workloads: ['网格员工作量', 'Officer workloads'],
  grid_assigned: ['有网格员的格子（按网格着色）', 'Cells with an officer (coloured by unit)'],
  grid_unassigned: ['无网格员的格子', 'Cells without an officer'],
  audit_cells: ['未纳入网格的企业所在格子', 'Cells of unsupervised enterprises'],
  audit_community_fill: ['未覆盖的居委/村', 'Communities not covered'],
  selected_unit: ['选中的网格', 'Selected unit'],
  import_title: ['导入数据', 'Import data'],
  import_kind: ['数据类型', 'Kind'],
  import_areas: ['行政区划', 'Administrative areas'],
  import_crs: ['坐标系', 'Coordinates'],
  crs_gcj02: ['GCJ-02（高德、腾讯）', 'GCJ-02 (Amap, Tencent)'],
  crs_bd09: ['BD-09（百度）', 'BD-09 (Baidu)'],
  import_file: ['文件（GeoJSON 或 CSV）', 'File (GeoJSON or CSV)'],
  import_skip: ['跳过错误行', 'Skip invalid rows'],
  import_run: ['导入', 'Import'],
  importing: ['正在导入 {f}…（{s} 秒）', 'Importing {f}… ({s} s)'],
  import_done: ['读取 {r} 行：新增 {i}，更新 {u}，拒绝 {x}', 'Read {r} rows: {i} added, {u} updated, {x} refused'],
  row: ['行', 'row'],

  // Attributes of the supervised things (feature details)
  hazard_title: ['隐患', 'Hazard'],
  f_name: ['名称', 'Name'],
  f_uscc: ['统一社会信用代码', 'USCC'],
  f_code: ['编码', 'Code'],
  f_risk_level: ['风险等级', 'Risk level'],
  f_industry: ['行业', 'Industry'],
  f_major_hazard: ['重大危险源', 'Major hazard installation'],
  f_employees: ['从业人数', 'Employees'],
  f_address: ['地址', 'Address'],
  f_medium: ['介质', 'Medium'],
  f_class: ['类别', 'Class'],
  f_pressure: ['压力级别', 'Pressure'],
  f_diameter_mm: ['管径（mm）', 'Diameter (mm)'],
  f_operator: ['运营单位', 'Operator'],
  f_occupant: ['占压物', 'Occupied by'],
  f_status: ['状态', 'Status'],
  f_deadline: ['期限', 'Deadline'],
  f_pipeline_code: ['管道编码', 'Pipeline'],
  f_type: ['类型', 'Type'],
  f_vehicles: ['车辆', 'Vehicles'],
  f_staff: ['人员', 'Staff'],
  f_level: ['等级', 'Level'],
  f_vessels: ['渔船', 'Vessels'],
  f_use: ['用途', 'Use'],
  f_levels: ['层数', 'Levels'],
  f_floor_area_m2: ['建筑面积（m²）', 'Floor area (m²)'],
  f_depth_m: ['埋深（m）', 'Depth (m)'],
  f_cell: ['网格格子', 'Cell'],
  transmission: ['输送', 'transmission'],
  distribution: ['配送', 'distribution'],
  existing: ['现有', 'existing'],
  planned: ['规划', 'planned'],

  // Base map
  district: ['区', 'District'],
  street: ['街道/镇', 'Street/town'],
  water: ['水域', 'Water'],

  // Errors
  // Admin console: users and the audit log
  nav_map: ['网格地图', 'Grid map'],
  nav_users: ['用户管理', 'Users'],
  nav_audit: ['操作日志', 'Audit log'],
  users_title: ['用户管理', 'Users'],
  user_role: ['角色', 'Role'],
  unit_code: ['网格编码', 'Grid unit code'],
  user_state: ['状态', 'Status'],
  user_enabled: ['启用', 'Enabled'],
  user_disabled: ['停用', 'Disabled'],
  search: ['搜索', 'Search'],
  users_q_hint: ['用户名或姓名', 'Username or name'],
  display_name: ['姓名', 'Name'],
  last_login: ['最近登录', 'Last sign-in'],
  sessions: ['会话', 'Sessions'],
  new_user: ['新建用户', 'New user'],
  street_code_street: ['街道代码（街道办必填）', 'Street code (street offices only)'],
  new_password_opt: ['密码（留空则自动生成）', 'Password (leave empty to generate one)'],
  password_rule: ['密码至少 8 位，且不能只是用户名。', 'At least 8 characters, and not just the username.'],
  create_user: ['创建', 'Create'],
  user_created: ['已创建用户 {u}', 'User {u} created'],
  generated_password: ['生成的密码（只显示这一次，请转交本人）', 'Generated password (shown this once: pass it on)'],
  save: ['保存', 'Save'],
  cancel: ['取消', 'Cancel'],
  disable_user: ['停用', 'Disable'],
  enable_user: ['启用', 'Enable'],
  reset_password: ['重置密码', 'Reset password'],
  remove_user: ['删除', 'Remove'],
  confirm_remove: ['删除用户 {u}？其历史记录保留。', 'Remove user {u}? Their history is kept.'],
  confirm_reset: ['为 {u} 生成新密码？其所有会话将被注销。', 'Generate a new password for {u}? All their sessions end.'],
  user_removed: ['已删除用户 {u}', 'User {u} removed'],
  user_disabled_ok: ['已停用 {u}', '{u} disabled'],
  user_enabled_ok: ['已启用 {u}', '{u} enabled'],
  signed_in: ['登录时间', 'Signed in'],
  last_seen: ['最近使用', 'Last used'],
  expires: ['到期', 'Expires'],
  revoke: ['注销', 'Revoke'],
  revoked: ['已注销', 'Revoked'],
  revoke_all: ['全部注销', 'Revoke all'],
  never: ['从未', 'Never'],
  log_title: ['操作日志', 'Audit log'],
  actor: ['操作人', 'Who'],
  action: ['操作', 'Action'],
  object_kind: ['对象类型', 'Object kind'],
  object_key: ['对象编号', 'Object'],
  kind_hazard: ['隐患', 'Hazard'],
  kind_enterprise: ['企业', 'Enterprise'],
  kind_user: ['用户', 'User'],
  kind_session: ['会话', 'Session'],
  kind_unit: ['网格', 'Grid unit'],
  kind_dataset: ['数据集', 'Dataset'],
  kind_webhook: ['推送地址', 'Webhook'],
  kind_notification: ['通知', 'Notification'],
  time: ['时间', 'Time'],
  newest_first: ['（最新在前）', '(newest first)'],
  export_truncated: ['导出仅含前 {n} 条记录，请缩小筛选范围', 'The export holds only the first {n} records: narrow the filters'],
  log_from: ['从', 'From'],
  log_to: ['至', 'To'],
  act_login: ['登录', 'Sign-in'],
  act_login_failed: ['登录失败', 'Failed sign-in'],
  act_logout: ['退出', 'Sign-out'],
  act_hazard_report: ['上报隐患', 'Hazard reported'],
  act_hazard_registered: ['隐患立案', 'Hazard registered'],
  act_hazard_assigned: ['隐患派遣', 'Hazard assigned'],
  act_hazard_rectifying: ['隐患整改', 'Hazard in rectification'],
  act_hazard_verified: ['隐患验收', 'Hazard verified'],
  act_hazard_closed: ['隐患销号', 'Hazard closed'],
  act_inspection: ['检查记录', 'Inspection'],
  act_import: ['导入数据', 'Import'],
  act_unit_create: ['新建网格', 'Grid unit created'],
  act_unit_update: ['修改网格', 'Grid unit changed'],
  act_unit_delete: ['删除网格', 'Grid unit deleted'],
  act_assign: ['指派网格员', 'Officer assigned'],
  act_user_add: ['新建用户', 'User created'],
  act_user_update: ['修改用户', 'User changed'],
  act_user_disable: ['停用用户', 'User disabled'],
  act_user_enable: ['启用用户', 'User enabled'],
  act_user_password_reset: ['重置密码', 'Password reset'],
  act_user_remove: ['删除用户', 'User removed'],
  act_session_revoke: ['注销会话', 'Session revoked'],
  act_sessions_revoke: ['注销全部会话', 'All sessions revoked'],
  act_password_change: ['修改本人密码', 'Own password changed'],
  change_password: ['修改密码', 'Change password'],
  old_password: ['原密码', 'Current password'],
  new_password: ['新密码', 'New password'],
  password_changed: ['密码已修改', 'Password changed'],
  notifications: ['通知', 'Notifications'],
  notify_unread: ['{n} 条未读通知', '{n} unread notifications'],
  notify_unread_only: ['仅未读', 'Unread only'],
  notify_read_all: ['全部标为已读', 'Mark all read'],
  notify_mark_read: ['标为已读', 'Mark read'],
  notify_read: ['已读', 'Read'],
  notify_empty: ['暂无通知', 'No notifications'],
  notify_more: ['加载更多', 'Load more'],
  network_error: ['网络错误', 'Network error'],
  server_error: ['服务器错误', 'Server error'],
};

const langs = ['zh-CN', 'en'];
let lang = langs.includes(localStorage.getItem('safegrid.lang')) ? localStorage.getItem('safegrid.lang') : 'zh-CN';
const listeners = new Set();

// addStrings adds a capability's own labels (key: [zh-CN, English]) from its module, so
// that each view keeps its strings beside its code. A key defined twice is a mistake.
export function addStrings(more) {
  for (const [k, v] of Object.entries(more)) {
    if (k in dict) throw new Error('i18n: ' + k + ' is defined twice');
    dict[k] = v;
  }
}

export function currentLang() {
  return lang;
}

// t returns the label for key in the current language, with {name} filled from vars.
export function t(key, vars) {
  const entry = dict[key];
  let s = entry ? entry[lang === 'en' ? 1 : 0] : key;
  if (vars) {
    s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  }
  return s;
}

// tv translates a data value (a status, a level) when the dictionary knows it.
export function tv(prefix, value) {
  if (value == null || value === '') return '';
  const key = prefix + value;
  return key in dict ? t(key) : String(value);
}

// apply writes every data-i18n label under root.
export function apply(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  document.title = t('app_title');
}

export function setLang(l) {
  lang = langs.includes(l) ? l : 'zh-CN';
  localStorage.setItem('safegrid.lang', lang);
  apply();
  for (const fn of listeners) fn(lang);
}

export function toggleLang() {
  setLang(lang === 'en' ? 'zh-CN' : 'en');
}

// onLangChange calls fn after every switch; it returns a function that stops it.
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// fmtPct formats a share (0..1) as a percentage with one decimal.
export function fmtPct(x) {
  return x == null || Number.isNaN(x) ? '—' : (x * 100).toFixed(1) + '%';
}

export function fmtNum(x, digits = 0) {
  if (x == null || Number.isNaN(x)) return '—';
  return Number(x).toLocaleString(lang, { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(lang, { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}
