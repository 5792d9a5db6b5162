/**
 * The demo province's reference data: Anhui's 16 cities with a few districts each, the
 * venues of every scenario of the province's plan (皖疫控办〔2020〕260号 §二), and a
 * deterministic generator of synthetic residents with valid GB 11643 ID numbers.
 * Nothing here is a real person: names are drawn from common surnames and given names,
 * ID numbers and phone numbers from a seeded random generator.
 */
import { VENUE_TYPES, type VenueType } from '../../verifier/src';
import { gb11643CheckChar } from '../../server/domain/identity';
import { anhuiCities, isRegionCode, regionName } from '../../server/domain/regions';
import { DESK_KINDS, DESK_VENUE_TYPES, type DeskKind } from '../../server/domain/services';

/** A small, fast, seedable PRNG (mulberry32); the demo must be the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator for item `i` of a stream, independent of how many items come before it. */
export function rngFor(seed: number, stream: string, i: number): () => number {
  let h = 2166136261 ^ seed;
  for (const ch of `${stream}:${i}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return rng(h);
}

export const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

export function weighted<T>(r: () => number, xs: ReadonlyArray<readonly [T, number]>): T {
  const total = xs.reduce((n, [, w]) => n + w, 0);
  let x = r() * total;
  for (const [v, w] of xs) {
    x -= w;
    if (x < 0) return v;
  }
  return xs[xs.length - 1][0];
}

export interface CityPlan {
  code: string;
  /** Population in 100,000s (2020 census, rounded): how residents are spread. */
  weight: number;
  /** Districts residents live in (GB/T 2260). */
  districts: readonly string[];
  /** Licence plate prefix (皖A 合肥 …). */
  plate: string;
}

export const CITIES: readonly CityPlan[] = [
  {
    code: '340100',
    weight: 94,
    districts: ['340102', '340103', '340104', '340111', '340121', '340122', '340123', '340181'],
    plate: '皖A',
  },
  { code: '340200', weight: 36, districts: ['340202', '340207', '340209', '340281'], plate: '皖B' },
  { code: '340300', weight: 33, districts: ['340302', '340303', '340304', '340321'], plate: '皖C' },
  { code: '340400', weight: 30, districts: ['340402', '340403', '340404', '340422'], plate: '皖D' },
  { code: '340500', weight: 22, districts: ['340503', '340504', '340521'], plate: '皖E' },
  { code: '340600', weight: 20, districts: ['340602', '340603', '340621'], plate: '皖F' },
  { code: '340700', weight: 13, districts: ['340705', '340706', '340722'], plate: '皖G' },
  { code: '340800', weight: 42, districts: ['340802', '340803', '340811', '340881'], plate: '皖H' },
  { code: '341000', weight: 13, districts: ['341002', '341003', '341021'], plate: '皖J' },
  { code: '341100', weight: 40, districts: ['341102', '341103', '341181', '341126'], plate: '皖M' },
  { code: '341200', weight: 82, districts: ['341202', '341203', '341204', '341221', '341222'], plate: '皖K' },
  { code: '341300', weight: 53, districts: ['341302', '341321', '341322'], plate: '皖L' },
  { code: '341500', weight: 44, districts: ['341502', '341503', '341522'], plate: '皖N' },
  { code: '341600', weight: 50, districts: ['341602', '341621', '341622'], plate: '皖S' },
  { code: '341700', weight: 13, districts: ['341702', '341723'], plate: '皖R' },
  { code: '341800', weight: 25, districts: ['341802', '341881', '341882'], plate: '皖P' },
];

/** The risk-area list the demo publishes: one high-risk district and two medium ones. */
export const RISK = { high: '340102', medium: ['340111', '341202'] } as const;
/** Districts the demo's grid worker (网格员) covers: where the demo's case lives, and the high-risk one. */
export const GRID_DISTRICTS = ['340104', '340102'] as const;
/** Ordinary travel outside Anhui that some residents declare (上海黄浦, 南京玄武, 杭州西湖). */
export const TRAVEL_REGIONS = ['310101', '320102', '330106'] as const;

export interface VenuePlan {
  /** Stable key within the plan; the venue is found again on a second run by type, name and district. */
  key: string;
  type: VenueType;
  subtype: string;
  name: string;
  district: string;
  vehicle?: { plate?: string; route?: string };
  requireTemperature?: boolean;
}

const v = (
  key: string,
  type: VenueType,
  subtype: string,
  name: string,
  district: string,
  extra: Partial<VenuePlan> = {},
): VenuePlan => ({ key, type, subtype, name, district, ...extra });
const T = { requireTemperature: true };

/**
 * Venues of every type and subtype across the 16 cities. Public places carry their usual
 * names; employers and schools have made-up names.
 */
export const VENUES: readonly VenuePlan[] = [
  // 合肥
  v('hf-community-feicuihu', 'residential-community', 'community', '蜀山区翡翠湖社区东门', '340104'),
  v('hf-community-binhu', 'residential-community', 'community', '包河区滨湖世纪社区南门', '340111'),
  v('hf-community-mingguang', 'residential-community', 'community', '瑶海区明光路社区北门', '340102'),
  v('hf-village-sanhe', 'residential-community', 'village', '肥西县三河镇新仓村村口', '340123'),
  v('hf-enterprise', 'enterprise', 'enterprise', '合肥智联电子科技有限公司', '340177'),
  v('hf-worksite', 'enterprise', 'worksite', '地铁8号线土建三标项目部', '340111'),
  v('hf-park', 'enterprise', 'park', '高新区创新产业园一期', '340176'),
  v('hf-mall', 'crowded-place', 'mall', '淮河路步行街百货大楼', '340103'),
  v('hf-restaurant', 'crowded-place', 'restaurant', '徽味居酒楼（长江西路店）', '340104'),
  v('hf-market', 'crowded-place', 'market', '瑶海区长江东路农贸市场', '340102'),
  v('hf-hotel', 'crowded-place', 'hotel', '滨湖假日酒店', '340111'),
  v('hf-scenic', 'crowded-place', 'scenic-spot', '三河古镇景区', '340123'),
  v('hf-hall', 'public-service', 'government-hall', '合肥市政务服务中心', '340104'),
  v('hf-hospital', 'public-service', 'hospital', '安徽省立医院门诊楼', '340103', T),
  v('hf-bank', 'public-service', 'bank', '工商银行合肥四牌楼支行', '340103'),
  v('hf-utility', 'public-service', 'utility', '合肥供水集团蜀山营业厅', '340104'),
  v('hf-post', 'public-service', 'post', '合肥长江中路邮政支局', '340103'),
  v('hf-station', 'transport', 'station', '合肥南站', '340111', T),
  v('hf-airport', 'transport', 'airport', '合肥新桥国际机场T1航站楼', '340104', T),
  v('hf-metro', 'transport', 'metro', '合肥轨道交通1号线大东门站', '340102'),
  v('hf-bus', 'transport', 'bus', '合肥公交226路', '340104', {
    vehicle: { plate: '皖A·F2261', route: '226路 南七—火车站' },
  }),
  v('hf-taxi', 'transport', 'taxi', '出租车 皖A·T8852', '340103', { vehicle: { plate: '皖A·T8852' } }),
  v('hf-university', 'school', 'university', '安徽大学磬苑校区', '340104', T),
  v('hf-middle', 'school', 'middle-school', '蜀山区实验中学', '340104', T),
  v('hf-primary', 'school', 'primary-school', '包河区滨湖第一小学', '340111', T),
  v('hf-kindergarten', 'school', 'kindergarten', '庐阳区春晖幼儿园', '340103', T),
  v('hf-port-of-entry', 'border', 'port-of-entry', '合肥新桥国际机场口岸', '340104', T),
  // 芜湖
  v('wh-community', 'residential-community', 'community', '镜湖区赭山社区', '340202'),
  v('wh-scenic', 'crowded-place', 'scenic-spot', '芜湖方特欢乐世界', '340207'),
  v('wh-port', 'transport', 'port', '芜湖港朱家桥码头', '340207', T),
  v('wh-station', 'transport', 'station', '芜湖站', '340202', T),
  v('wh-park', 'enterprise', 'park', '芜湖经开区汽车零部件产业园', '340271'),
  v('wh-university', 'school', 'university', '芜湖江城师范学院', '340202', T),
  // 蚌埠
  v('bb-community', 'residential-community', 'community', '蚌山区胜利路社区', '340303'),
  v('bb-station', 'transport', 'station', '蚌埠南站', '340302', T),
  v('bb-hospital', 'public-service', 'hospital', '蚌埠市第一人民医院', '340303', T),
  v('bb-market', 'crowded-place', 'market', '禹会区中荣农贸市场', '340304'),
  // 淮南
  v('hn-community', 'residential-community', 'community', '田家庵区龙泉社区', '340403'),
  v('hn-worksite', 'enterprise', 'worksite', '潘集区矿区井口作业区', '340406'),
  v('hn-scenic', 'crowded-place', 'scenic-spot', '八公山风景区', '340405'),
  // 马鞍山
  v('mas-community', 'residential-community', 'community', '花山区湖东社区', '340503'),
  v('mas-scenic', 'crowded-place', 'scenic-spot', '采石矶风景区', '340504'),
  v('mas-station', 'transport', 'station', '马鞍山东站', '340503', T),
  // 淮北
  v('hb-community', 'residential-community', 'community', '相山区人民路社区', '340603'),
  v('hb-hall', 'public-service', 'government-hall', '淮北市政务服务中心', '340603'),
  v('hb-mall', 'crowded-place', 'mall', '相山区淮海路商业街', '340603'),
  // 铜陵
  v('tl-community', 'residential-community', 'community', '铜官区长江路社区', '340705'),
  v('tl-bank', 'public-service', 'bank', '农业银行铜陵义安支行', '340706'),
  v('tl-bus', 'transport', 'bus', '铜陵公交11路', '340705', {
    vehicle: { plate: '皖G·05111', route: '11路 火车站—天井湖' },
  }),
  // 安庆
  v('aq-community', 'residential-community', 'community', '迎江区人民路社区', '340802'),
  v('aq-hospital', 'public-service', 'hospital', '安庆市立医院', '340802', T),
  v('aq-port', 'transport', 'port', '安庆港客运码头', '340802', T),
  v('aq-scenic', 'crowded-place', 'scenic-spot', '天柱山风景区', '340882'),
  // 黄山
  v('hs-community', 'residential-community', 'community', '屯溪区老街社区', '341002'),
  v('hs-scenic', 'crowded-place', 'scenic-spot', '黄山风景区南大门', '341003'),
  v('hs-hotel', 'crowded-place', 'hotel', '屯溪徽州古城客栈', '341002'),
  v('hs-airport', 'transport', 'airport', '黄山屯溪国际机场', '341002', T),
  v('hs-station', 'transport', 'station', '黄山北站', '341002', T),
  // 滁州
  v('cz-community', 'residential-community', 'community', '琅琊区南门社区', '341102'),
  v('cz-village', 'residential-community', 'village', '凤阳县小岗村村口', '341126'),
  v('cz-scenic', 'crowded-place', 'scenic-spot', '琅琊山风景区', '341102'),
  v('cz-middle', 'school', 'middle-school', '琅琊区实验中学', '341102', T),
  // 阜阳
  v('fy-community', 'residential-community', 'community', '颍州区清河路社区', '341202'),
  v('fy-station', 'transport', 'station', '阜阳西站', '341202', T),
  v('fy-hospital', 'public-service', 'hospital', '阜阳市人民医院', '341202', T),
  v('fy-market', 'crowded-place', 'market', '颍州区西关农贸市场', '341202'),
  v('fy-restaurant', 'crowded-place', 'restaurant', '颍州区格拉条老店', '341202'),
  // 宿州
  v('sz-community', 'residential-community', 'community', '埇桥区汴河路社区', '341302'),
  v('sz-scenic', 'crowded-place', 'scenic-spot', '砀山梨园景区', '341321'),
  v('sz-checkpoint', 'border', 'provincial-checkpoint', 'G3京台高速皖苏界检查站', '341302', T),
  // 六安
  v('la-community', 'residential-community', 'community', '金安区梅山路社区', '341502'),
  v('la-scenic', 'crowded-place', 'scenic-spot', '金寨天堂寨景区', '341524'),
  v('la-utility', 'public-service', 'utility', '六安供电公司金安营业厅', '341502'),
  // 亳州
  v('bz-community', 'residential-community', 'community', '谯城区花戏楼社区', '341602'),
  v('bz-market', 'crowded-place', 'market', '亳州中药材交易中心', '341602'),
  v('bz-station', 'transport', 'station', '亳州南站', '341602', T),
  // 池州
  v('chz-community', 'residential-community', 'community', '贵池区秋浦路社区', '341702'),
  v('chz-scenic', 'crowded-place', 'scenic-spot', '九华山风景区', '341723'),
  v('chz-airport', 'transport', 'airport', '池州九华山机场', '341702', T),
  // 宣城
  v('xc-community', 'residential-community', 'community', '宣州区鳌峰社区', '341802'),
  v('xc-scenic', 'crowded-place', 'scenic-spot', '泾县桃花潭景区', '341823'),
  v('xc-post', 'public-service', 'post', '宣城鳌峰路邮政支局', '341802'),
  v('xc-enterprise', 'enterprise', 'enterprise', '泾县宣纸工坊有限公司', '341823'),
  v('xc-primary', 'school', 'primary-school', '宣州区鳌峰小学', '341802', T),
];

/** The venues the demo's confirmed case visited that morning: tracing finds who was there too. */
export const CASE_PATH = ['hf-restaurant', 'hf-bus', 'hf-mall'] as const;

/** A service desk of the demo (多功能): its kind, where it stands, and the name its counter shows. */
export interface DeskPlan {
  /** Stable key; a second run finds the desk again through the token kept under this key. */
  key: string;
  kind: DeskKind;
  /** The VENUES key of the venue it stands in. */
  venue: string;
  name: string;
}

/**
 * One desk of every kind, at venues the demo already has: a hospital's registration window
 * and cashier, a drugstore in the department store, the government service hall's social
 * security and general counters, and the fare readers of bus 226 and a metro station.
 */
export const DESKS: readonly DeskPlan[] = [
  { key: 'hf-registration', kind: 'hospital-desk', venue: 'hf-hospital', name: '门诊挂号窗口' },
  { key: 'hf-cashier', kind: 'hospital-cashier', venue: 'hf-hospital', name: '门诊收费处（医保结算）' },
  { key: 'hf-pharmacy', kind: 'pharmacy', venue: 'hf-mall', name: '一楼大药房（医保刷码）' },
  { key: 'hf-social-security', kind: 'social-security-office', venue: 'hf-hall', name: '人社窗口（社保卡业务）' },
  { key: 'hf-service-hall', kind: 'service-hall', venue: 'hf-hall', name: '综合受理窗口（亮码办事）' },
  { key: 'hf-bus-fare', kind: 'transit-reader', venue: 'hf-bus', name: '226路车载扫码机' },
  { key: 'hf-metro-fare', kind: 'transit-reader', venue: 'hf-metro', name: '大东门站进站闸机' },
];

/** The city (`PPCC00`) of a district code. */
export const cityCodeOf = (district: string) => `${district.slice(0, 4)}00`;

// Fail at load, not halfway through a demo, if the dataset and this plan disagree.
(() => {
  const cities = anhuiCities().map((c) => c.code);
  const planned = CITIES.map((c) => c.code);
  if (cities.join() !== planned.join())
    throw new Error(`the demo plans cities ${planned.join()}, the region dataset lists ${cities.join()}`);
  const districts = [
    ...CITIES.flatMap((c) => c.districts),
    ...VENUES.map((x) => x.district),
    RISK.high,
    ...RISK.medium,
    ...TRAVEL_REGIONS,
  ];
  const unknown = districts.filter((d) => !isRegionCode(d));
  if (unknown.length) throw new Error(`the demo names region codes the dataset lacks: ${unknown.join(', ')}`);
  const types = new Set(VENUES.map((x) => x.type));
  const missing = VENUE_TYPES.filter((t) => !types.has(t));
  if (missing.length) throw new Error(`the demo has no venue of type ${missing.join(', ')}`);
  const keys = new Set(VENUES.map((x) => x.key));
  if (keys.size !== VENUES.length) throw new Error('venue keys repeat');
  for (const k of CASE_PATH) if (!keys.has(k)) throw new Error(`case path names unknown venue ${k}`);
  for (const d of DESKS) {
    const at = VENUES.find((x) => x.key === d.venue);
    if (!at) throw new Error(`desk ${d.key} stands in unknown venue ${d.venue}`);
    if (!DESK_VENUE_TYPES[d.kind].includes(at.type))
      throw new Error(`a ${d.kind} cannot stand in a ${at.type} venue (${d.venue})`);
  }
  const deskKinds = new Set(DESKS.map((d) => d.kind));
  const noDesk = DESK_KINDS.filter((k) => !deskKinds.has(k));
  if (noDesk.length) throw new Error(`the demo has no desk of kind ${noDesk.join(', ')}`);
})();

export const cityName = (code: string) => regionName(cityCodeOf(code)) ?? code;

// The most common surnames (Anhui has many 汪, 方, 储 as well), roughly in order of frequency.
const SURNAMES =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢汪方江储陶查';
const GIVEN: Record<'old' | 'mid' | 'young', Record<'m' | 'f', readonly string[]>> = {
  old: {
    m: ['建国', '国华', '德明', '志刚', '永福', '长林', '玉山', '金宝', '世昌', '守义', '明', '华'],
    f: ['秀英', '桂英', '玉兰', '秀珍', '凤英', '淑芬', '桂兰', '翠华', '素梅', '兰', '英'],
  },
  mid: {
    m: ['伟', '强', '磊', '军', '勇', '杰', '涛', '斌', '鹏', '辉', '志强', '海涛', '俊峰', '晓东', '文斌', '建华'],
    f: ['芳', '娟', '敏', '静', '丽', '艳', '娜', '霞', '燕', '玲', '晓红', '丽娟', '海燕', '春梅', '雪梅', '文静'],
  },
  young: {
    m: ['子轩', '浩然', '宇航', '俊杰', '一鸣', '梓豪', '宇轩', '博文', '皓轩', '家乐', '思远', '天佑'],
    f: ['梓涵', '欣怡', '诗涵', '雨萱', '一诺', '佳怡', '可馨', '语桐', '若汐', '思琪', '梦瑶', '紫萱'],
  },
};
const MOBILE_PREFIXES = [
  '130',
  '131',
  '133',
  '135',
  '136',
  '137',
  '138',
  '139',
  '150',
  '151',
  '152',
  '155',
  '158',
  '159',
  '180',
  '182',
  '183',
  '185',
  '186',
  '187',
  '188',
  '189',
  '199',
];

export type Profile = 'healthy' | 'fever' | 'symptoms' | 'medium-visit' | 'high-visit' | 'declared-contact';

/** Shares of the non-healthy profiles; each appears at least once in a province of 20 or more. */
const PROFILE_SHARES: ReadonlyArray<readonly [Profile, number]> = [
  ['fever', 0.05],
  ['symptoms', 0.04],
  ['medium-visit', 0.05],
  ['high-visit', 0.04],
  ['declared-contact', 0.01],
];

/**
 * The story's people by index: the case, two family members named in the close-contacts
 * feed, a colleague named as a secondary contact, and a traveller named in the
 * inbound-travellers feed.
 */
export const ROLE = { case: 0, family: [1, 2], colleague: 3, inbound: 4 } as const;
export const FIRST_ORDINARY = 5;

/**
 * Residents with distinct last four digits of their phone numbers: the development outbox
 * names numbers only masked (138****5678), so sign-ins running side by side could otherwise
 * read each other's codes.
 */
export const MAX_RESIDENTS = 10_000;

/** Four digits, distinct for every index below MAX_RESIDENTS (7919 is prime to 10,000). */
const lastFour = (seed: number, index: number) => String((index * 7919 + seed * 4021) % MAX_RESIDENTS).padStart(4, '0');

export interface Person {
  index: number;
  idNumber: string;
  name: string;
  /** A mainland mobile number; its last four digits are the person's own in the province (see MAX_RESIDENTS). */
  phone: string;
  district: string;
  birthYear: number;
  male: boolean;
  profile: Profile;
}

/** Profiles of a province of `n`: deterministic for (seed, n). */
export function profilesFor(seed: number, n: number): Profile[] {
  const out: Profile[] = Array.from({ length: n }, () => 'healthy');
  const r = rng(seed ^ 0x5eed);
  const free = Array.from({ length: Math.max(0, n - FIRST_ORDINARY) }, (_, i) => i + FIRST_ORDINARY);
  // Fisher–Yates, then hand out the shares from the front.
  for (let i = free.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [free[i], free[j]] = [free[j], free[i]];
  }
  let at = 0;
  for (const [p, share] of PROFILE_SHARES) {
    const count = Math.max(free.length >= 20 ? 1 : 0, Math.round(share * n));
    for (let k = 0; k < count && at < free.length; k++) out[free[at++]] = p;
  }
  return out;
}

function birthYearOf(r: () => number): number {
  const [lo, hi] = weighted(r, [
    [[1945, 1959], 10],
    [[1960, 1979], 30],
    [[1980, 1999], 35],
    [[2000, 2007], 10],
    [[2008, 2021], 15],
  ] as const);
  return lo + Math.floor(r() * (hi - lo + 1));
}

function givenName(r: () => number, birthYear: number, male: boolean): string {
  const era = birthYear < 1960 ? 'old' : birthYear < 1995 ? 'mid' : 'young';
  return pick(r, GIVEN[era][male ? 'm' : 'f']);
}

/**
 * Resident `index` of the demo province with seed `seed`. The case and family live in
 * 蜀山区 and share a surname; residents 5–20 go one to each city, so every city has people;
 * the rest follow city populations. `taken` keeps ID numbers distinct within a run.
 */
export function personAt(seed: number, index: number, profile: Profile, taken: Set<string>): Person {
  const r = rngFor(seed, 'person', index);
  let district: string;
  if (index <= ROLE.colleague) district = '340104';
  else if (index >= FIRST_ORDINARY && index < FIRST_ORDINARY + CITIES.length)
    district = pick(r, CITIES[index - FIRST_ORDINARY].districts);
  else
    district = pick(
      r,
      weighted(
        r,
        CITIES.map((c) => [c, c.weight] as const),
      ).districts,
    );
  const birthYear =
    index === ROLE.case ? 1986 : index === ROLE.family[0] ? 1988 : index === ROLE.family[1] ? 2014 : birthYearOf(r);
  const male = index === ROLE.case || index === ROLE.family[1] ? true : index === ROLE.family[0] ? false : r() < 0.51;
  // Skewed towards the front of the list, as surnames are. The case's son takes his
  // father's surname; the case's wife keeps her own.
  let surname = SURNAMES[Math.floor(Math.pow(r(), 1.6) * SURNAMES.length)];
  if (index === ROLE.case || index === ROLE.family[1]) surname = SURNAMES[Math.floor(rngFor(seed, 'family', 0)() * 12)];
  const name = surname + givenName(r, birthYear, male);
  let idNumber = '';
  for (let attempt = 0; !idNumber || taken.has(idNumber); attempt++) {
    const day = new Date(Date.UTC(birthYear, 0, 1) + Math.floor(r() * 365) * 86_400_000);
    const ymd = day.toISOString().slice(0, 10).replace(/-/g, '');
    // The 17th digit is odd for men, even for women (GB 11643-1999 §4.3).
    const seq = String(Math.floor(r() * 100)).padStart(2, '0') + String(Math.floor(r() * 5) * 2 + (male ? 1 : 0));
    const first17 = `${district}${ymd}${seq}`;
    idNumber = first17 + gb11643CheckChar(first17);
    if (attempt > 50) throw new Error('could not find a free ID number');
  }
  taken.add(idNumber);
  const phone = pick(r, MOBILE_PREFIXES) + String(Math.floor(r() * 1e4)).padStart(4, '0') + lastFour(seed, index);
  return { index, idNumber, name, phone, district, birthYear, male, profile };
}

/** A made-up traveller arriving at the port of entry (入境发码): passport or 回乡证 holders. */
export function travellerAt(seed: number, i: number) {
  const r = rngFor(seed, 'traveller', i);
  const male = r() < 0.5;
  const name = SURNAMES[Math.floor(r() * 20)] + givenName(r, 1990, male);
  const kinds = [
    {
      idType: 'passport' as const,
      idNumber: `E${String(Math.floor(r() * 1e8)).padStart(8, '0')}`,
      from: 'KR',
      phone: pick(r, MOBILE_PREFIXES) + String(Math.floor(r() * 1e8)).padStart(8, '0'),
    },
    {
      idType: 'hk-macao-permit' as const,
      idNumber: `H${String(Math.floor(r() * 1e8)).padStart(8, '0')}`,
      from: 'HK',
      phone: `+8529${String(Math.floor(r() * 1e7)).padStart(7, '0')}`,
    },
    {
      idType: 'passport' as const,
      idNumber: `E${String(Math.floor(r() * 1e8)).padStart(8, '0')}`,
      from: 'SG',
      phone: pick(r, MOBILE_PREFIXES) + String(Math.floor(r() * 1e8)).padStart(8, '0'),
    },
  ];
  return { ...kinds[i % kinds.length], name };
}
