/**
 * The offline verifier's service worker (scope /verify): keeps the page, its script and
 * style and the verifier bundle, so /verify opens and checks codes with the network cut.
 * The page itself is fetched fresh when the network answers (network first), the
 * content-hashed assets never change (cache first). web/build.ts fills in the names.
 */
declare const __PRECACHE__: string[];
declare const __CACHE__: string;

interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  request: Request;
  respondWith(r: Promise<Response> | Response): void;
}
interface WorkerScope {
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  location: Location;
}

const worker = self as unknown as WorkerScope;
const PAGE = '/verify';
const precached = new Set(__PRECACHE__);

worker.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(__CACHE__)
      .then((c) => c.addAll(__PRECACHE__))
      .then(() => worker.skipWaiting()),
  );
});

worker.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(keys.filter((k) => k.startsWith('ankang-verify-') && k !== __CACHE__).map((k) => caches.delete(k))),
      )
      .then(() => worker.clients.claim()),
  );
});

worker.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== worker.location.origin || !precached.has(url.pathname)) return;
  if (url.pathname === PAGE) {
    e.respondWith(
      fetch(req)
        .then(async (res) => {
          if (res.ok) await (await caches.open(__CACHE__)).put(PAGE, res.clone());
          return res;
        })
        .catch(async () => (await caches.match(PAGE)) ?? Response.error()),
    );
    return;
  }
  e.respondWith(caches.match(url.pathname).then((hit) => hit ?? fetch(req)));
});
