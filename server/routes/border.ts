import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';

/** Codes issued at entry to inbound travellers (入境发码). */
export function borderRoutes(_router: Router, _app: AppContext, _services: Services): void {}
