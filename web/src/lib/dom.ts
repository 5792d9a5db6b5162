/** Attributes and properties `h` understands; `on*` keys become event listeners. */
export type Props = Record<string, unknown> & { class?: string; dataset?: Record<string, string>; style?: string };
export type Child = Node | string | number | null | undefined | false | Child[];

/**
 * Creates an element: `h('p', { class: 'x' }, 'text', h('b', {}, 'bold'))`. Text children
 * become text nodes, so nothing passed here is ever parsed as HTML.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value') continue;
    else if (key.startsWith('on') && typeof value === 'function')
      el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    else if (key in el && key !== 'list' && key !== 'style' && typeof value !== 'string')
      (el as unknown as Record<string, unknown>)[key] = value;
    else el.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value));
  }
  append(el, children);
  // After the children, so a <select> already has the option being chosen.
  if (props.value !== undefined && props.value !== null)
    (el as unknown as { value: string }).value = String(props.value);
  return el;
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces the children of `el`. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
}
