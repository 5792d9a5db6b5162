import { lang } from './i18n';

/** Pages show Asia/Shanghai time whatever the device's zone (DESIGN.md, Reference data). */
export const TIME_ZONE = 'Asia/Shanghai';

const formats = new Map<string, Intl.DateTimeFormat>();

function parts(date: Date, withSeconds: boolean): Record<string, string> {
  const key = String(withSeconds);
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: TIME_ZONE,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      ...(withSeconds ? { second: '2-digit' } : {}),
      hourCycle: 'h23',
    });
    formats.set(key, f);
  }
  return Object.fromEntries(f.formatToParts(date).map((p) => [p.type, p.value]));
}

const toDate = (v: string | number | Date) => (v instanceof Date ? v : new Date(v));

/** 2026-03-10 10:00:05 in Shanghai time. */
export function dateTime(v: string | number | Date, withSeconds = true): string {
  const p = parts(toDate(v), withSeconds);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${withSeconds ? `:${p.second}` : ''}`;
}

/** 2026-03-10 in Shanghai time. */
export function dateOnly(v: string | number | Date): string {
  const p = parts(toDate(v), false);
  return `${p.year}-${p.month}-${p.day}`;
}

/** 10:00 in Shanghai time. */
export function clock(v: string | number | Date): string {
  const p = parts(toDate(v), false);
  return `${p.hour}:${p.minute}`;
}

/** The zone label that follows a time. */
export function zoneLabel(): string {
  return lang() === 'zh' ? '北京时间' : 'UTC+8';
}

/** m:ss (or h:mm:ss) until `ms` from now, never negative. */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** "3 分钟前" / "3 min ago" for an age in seconds. */
export function age(seconds: number): string {
  const zh = lang() === 'zh';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return zh ? `${s} 秒前` : `${s} s ago`;
  if (s < 3600) return zh ? `${Math.floor(s / 60)} 分钟前` : `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return zh ? `${Math.floor(s / 3600)} 小时前` : `${Math.floor(s / 3600)} h ago`;
  return zh ? `${Math.floor(s / 86400)} 天前` : `${Math.floor(s / 86400)} days ago`;
}
