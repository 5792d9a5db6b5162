/**
 * `npm run sign-in -- --phone 13812345678 --id 11010519491231002X --name 张三丰 [--id-type resident-id]`:
 * signs a person in to a running development service the way a browser would (the embedded
 * provider's pages, the code read from the outbox) and prints the session's tokens, for curl.
 * `ANKANG_URL` (default http://127.0.0.1:8080) and `DATA_DIR` (default ./data, for the
 * outbox) name the service.
 */
import { join, resolve } from 'node:path';
import { ID_TYPES, type IdType } from '../server/domain/identity';
import { signIn } from './lib/sign-in';

function args(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    if (!flag.startsWith('--') || argv[i + 1] === undefined)
      throw new Error(`expected --flag value pairs, got ${flag}`);
    out[flag.slice(2)] = argv[i + 1];
  }
  return out;
}

async function main() {
  const a = args(process.argv.slice(2));
  const idType = (a['id-type'] ?? 'resident-id') as IdType;
  if (!a.phone || !a.id || !a.name || !(ID_TYPES as readonly string[]).includes(idType)) {
    throw new Error(
      `usage: npm run sign-in -- --phone <mobile> --id <ID number> --name <name> [--id-type ${ID_TYPES.join('|')}]`,
    );
  }
  const url = (process.env.ANKANG_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const outbox = join(resolve(process.env.DATA_DIR ?? './data'), 'sms-outbox.jsonl');
  const s = await signIn(url, { idType, idNumber: a.id, name: a.name, phone: a.phone }, { codes: outbox });
  process.stdout.write(`TOKEN=${s.access}\nREFRESH=${s.refresh}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
