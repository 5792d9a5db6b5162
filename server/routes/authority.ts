import type Router from '@koa/router';
import type { Services } from '../app';
import type { AppContext } from '../context';

/** Contact tracing, grid follow-up, appeals and statistics (authority and grid roles). */
export function authorityRoutes(_router: Router, _app: AppContext, _services: Services): void {}
