import { createHash } from 'node:crypto';

/**
 * The sign-in pages: plain HTML forms that work without JavaScript, for a phone screen,
 * labelled in Chinese and English. Tests and the driver find things by stable names:
 * `data-step` on <main>, `data-testid` on forms, fields and buttons, and `data-error` (a
 * machine-readable code) on the error message.
 */

export type Step = 'phone' | 'code' | 'signup' | 'confirm';

export type PageErrorCode =
  | 'PHONE_FORMAT'
  | 'OTP_INVALID'
  | 'OTP_EXPIRED'
  | 'OTP_LOCKED'
  | 'TOO_MANY_REQUESTS'
  | 'INVALID_ID_NUMBER'
  | 'NAME_INVALID'
  | 'CONFIRMATION_STALE'
  | 'SMS_UNAVAILABLE'
  | 'SESSION_NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'INTERNAL';

export interface PageError {
  code: PageErrorCode | string;
  /** Bilingual text for people. */
  message: string;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;background:#f3f6f4;color:#1b1f1d}
main{max-width:28rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.35rem;margin:0 0 1rem}
p{margin:.5rem 0 1rem}
.en{color:#4b5550;font-size:.9em}
button .en{color:inherit}
label{display:block;margin:1rem 0 .25rem;font-weight:600}
input,select{width:100%;font:inherit;padding:.65rem .75rem;border:1px solid #9aa5a0;border-radius:.5rem;background:#fff}
button{width:100%;margin-top:1.25rem;font:inherit;font-weight:600;padding:.75rem;border:0;border-radius:.5rem;background:#137a3f;color:#fff}
button.secondary{background:#fff;color:#137a3f;border:1px solid #137a3f;margin-top:.75rem}
.error{border-left:4px solid #b3261e;background:#fdecea;padding:.6rem .8rem;border-radius:.25rem}
.note{font-size:.9rem;color:#4b5550}
`.trim();

/** The hash the Content-Security-Policy allows the one inline style block by. */
const STYLE_HASH = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;

/**
 * Headers of every page. No script may run at all; forms may post to this origin and, since
 * Chromium applies form-action to the redirects that follow a form, on to the clients'
 * redirect URIs.
 */
export function pageHeaders(clientOrigins: readonly string[]): Record<string, string> {
  return {
    'Content-Security-Policy': [
      "default-src 'none'",
      `style-src ${STYLE_HASH}`,
      `form-action 'self' ${clientOrigins.join(' ')}`.trim(),
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

const bi = (zh: string, en: string) => `${escapeHtml(zh)} <span class="en" lang="en">${escapeHtml(en)}</span>`;

function layout(step: Step | 'error', body: string): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>安康码 登录 Sign in</title>
<style>${CSS}</style>
</head>
<body>
<main data-step="${step}">
<h1>${bi('安康码 · 登录', 'Ankang sign-in')}</h1>
${body}
</main>
</body>
</html>
`;
}

function errorBlock(error: PageError | undefined): string {
  if (!error) return '';
  return `<p class="error" role="alert" data-testid="error" data-error="${escapeHtml(error.code)}">${escapeHtml(error.message)}</p>\n`;
}

function input(name: string, label: string, attrs: string, value = ''): string {
  return `<label for="${name}">${label}</label>
<input id="${name}" name="${name}" data-testid="${name}" ${attrs}${value ? ` value="${escapeHtml(value)}"` : ''}>`;
}

function form(action: string, testid: string, fields: string, submit: string): string {
  return `<form method="post" action="${escapeHtml(action)}" data-testid="${testid}">
${fields}
<button type="submit" data-testid="submit">${submit}</button>
</form>`;
}

function restart(action: string, label: string): string {
  return `<form method="post" action="${escapeHtml(action)}" data-testid="restart-form">
<button type="submit" class="secondary" data-testid="restart">${label}</button>
</form>`;
}

export const ID_TYPE_LABELS: Record<string, [string, string]> = {
  'resident-id': ['居民身份证', 'Resident ID card'],
  passport: ['护照', 'Passport'],
  'hk-macao-permit': ['港澳居民来往内地通行证', 'Mainland travel permit for HK and Macao residents'],
  'taiwan-permit': ['台湾居民来往大陆通行证', 'Mainland travel permit for Taiwan residents'],
};

export interface StepView {
  /** The interaction's base path, e.g. `/idp/interaction/<uid>`; forms post to `<base>/<step>`. */
  base: string;
  error?: PageError;
  /** Values to put back into the fields after an error. */
  values?: Record<string, string>;
  /** The code step: the number the code went to, masked (the person typed it themselves). */
  maskedPhone?: string;
}

/** The page for one step of sign-in. */
export function renderStep(step: Step, view: StepView): string {
  const v = view.values ?? {};
  const err = errorBlock(view.error);
  switch (step) {
    case 'phone':
      return layout(
        step,
        `<p>${bi('请输入手机号，我们会发送验证码。', 'Enter your phone number and we will text you a code.')}</p>
${err}${form(
          `${view.base}/phone`,
          'phone-form',
          input(
            'phone',
            bi('手机号', 'Phone'),
            'type="tel" inputmode="tel" autocomplete="tel" required maxlength="24"',
            v.phone,
          ),
          bi('获取验证码', 'Send code'),
        )}
<p class="note">${bi('内地手机号或以 + 开头的国际号码。', 'A mainland mobile number, or an international number starting with +.')}</p>`,
      );
    case 'code':
      return layout(
        step,
        `<p>${bi(`验证码已发送至 ${view.maskedPhone ?? ''}，5 分钟内有效。`, `We texted a code to ${view.maskedPhone ?? ''}; it is valid for 5 minutes.`)}</p>
${err}${form(`${view.base}/code`, 'code-form', input('code', bi('验证码', 'Code'), 'type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="12"'), bi('登录', 'Sign in'))}
${restart(`${view.base}/restart`, bi('重新获取验证码', 'Send a new code'))}`,
      );
    case 'signup': {
      const options = Object.entries(ID_TYPE_LABELS)
        .map(
          ([value, [zh, en]]) =>
            `<option value="${value}"${v.idType === value ? ' selected' : ''}>${escapeHtml(zh)} ${escapeHtml(en)}</option>`,
        )
        .join('\n');
      return layout(
        step,
        `<p>${bi('首次登录请登记证件，每个证件只能登记一个账号。', 'First sign-in: register your ID. Each ID belongs to one account only.')}</p>
<p class="note">${bi('开发环境：此步骤代替实名核验，不做真实核验。', 'Development: this step stands in for real-name verification; nothing is checked.')}</p>
${err}${form(
          `${view.base}/signup`,
          'signup-form',
          `<label for="idType">${bi('证件类型', 'ID type')}</label>
<select id="idType" name="idType" data-testid="idType" required>
${options}
</select>
${input('idNumber', bi('证件号码', 'ID number'), 'type="text" autocomplete="off" autocapitalize="characters" required maxlength="32"', v.idNumber)}
${input('name', bi('姓名', 'Name'), 'type="text" autocomplete="name" required maxlength="128"', v.name)}`,
          bi('下一步', 'Continue'),
        )}`,
      );
    }
    case 'confirm':
      // The same text whether the ID is new or held by another account: nothing on this
      // page may tell which (no masked number, no name, no echo of the ID).
      return layout(
        step,
        `<p>${bi('请输入发送到该证件登记手机号的确认码；如证件为新登记，确认码已发送到本手机号。', 'Enter the confirmation code sent to the phone registered for this ID, or to this phone if the ID is new.')}</p>
${err}${form(`${view.base}/confirm`, 'confirm-form', input('code', bi('确认码', 'Confirmation code'), 'type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="12"'), bi('确认', 'Confirm'))}
${restart(`${view.base}/restart`, bi('重新填写证件', 'Start the ID form again'))}`,
      );
  }
}

/** A page for an error that ends the interaction (expired session, a bad request). */
export function renderErrorPage(error: PageError): string {
  return layout(
    'error',
    `${errorBlock(error)}<p>${bi('请回到应用重新登录。', 'Go back to the app and sign in again.')}</p>`,
  );
}
