import { randomBytes } from 'node:crypto';
import {
  AbiCoder,
  Contract,
  ContractFactory,
  hexlify,
  keccak256,
  type JsonRpcProvider,
  type JsonRpcSigner,
  type Signer,
} from 'ethers';
import { artifact, RegistryCalls, RegistryClient, refusal, type Call } from './registry';

/**
 * The development council (`CHAIN_DEV`, `npm start`, `npm run demo:federation`): node-managed
 * accounts 0, 18 and 19 of a Hardhat node, two of whom must approve, and a one-second delay so
 * that one command still deploys, registers and anchors. Anchorers use accounts 1–17.
 */
export const DEV_COUNCIL = { accounts: [0, 18, 19], threshold: 2, minDelaySeconds: 1 } as const;

/** The delay `npm run governor -- deploy` gives a production council unless told otherwise: one day. */
export const PRODUCTION_MIN_DELAY_SECONDS = 86_400;

/** A governed operation: the timelock batch the council approves, schedules and executes. */
export interface Operation {
  /** The timelock's id of the batch: keccak256(abi.encode(targets, values, payloads, predecessor, salt)). */
  id: string;
  calls: Call[];
  predecessor: string;
  salt: string;
}

/** Where an operation stands: approved by fewer than the threshold, scheduled and waiting out the delay, executable, executed, or cancelled. */
export type OperationState = 'proposed' | 'waiting' | 'ready' | 'done' | 'cancelled' | 'unknown';

const ZERO32 = `0x${'00'.repeat(32)}`;
const TIMELOCK_STATES = ['unset', 'waiting', 'ready', 'done'] as const;

/**
 * A client for an AnchorCouncil (contracts/AnchorCouncil.sol): k-of-n approval in front of
 * OpenZeppelin's TimelockController. `signer` is the member acting (or anyone, to execute).
 */
export class CouncilClient {
  readonly contract: Contract;

  constructor(
    readonly provider: JsonRpcProvider,
    readonly address: string,
    readonly signer?: Signer,
  ) {
    this.contract = new Contract(address, artifact('AnchorCouncil').abi as never, signer ?? provider);
  }

  /** Deploys a council of `members`, `threshold` of whom approve, whose operations wait `minDelaySeconds`. */
  static async deploy(
    deployer: Signer,
    opts: { members: string[]; threshold: number; minDelaySeconds: number },
  ): Promise<string> {
    const { abi, bytecode } = artifact('AnchorCouncil');
    const c = await new ContractFactory(abi as never, bytecode, deployer).deploy(
      opts.members,
      opts.threshold,
      opts.minDelaySeconds,
    );
    await c.waitForDeployment();
    return c.getAddress();
  }

  /** The operation that runs `calls` in one batch; a random salt unless one is given, so that the same calls can be proposed again. */
  static operation(calls: Call[], salt = hexlify(randomBytes(32)), predecessor = ZERO32): Operation {
    const id = keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ['address[]', 'uint256[]', 'bytes[]', 'bytes32', 'bytes32'],
        [calls.map((c) => c.target), calls.map((c) => c.value), calls.map((c) => c.data), predecessor, salt],
      ),
    );
    return { id, calls, predecessor, salt };
  }

  async members(): Promise<string[]> {
    return (await this.contract.members()) as string[];
  }

  async threshold(): Promise<number> {
    return Number(await this.contract.threshold());
  }

  async minDelay(): Promise<number> {
    return Number(await this.contract.getMinDelay());
  }

  /**
   * Approves `op` as `signer`; the approval that reaches the threshold schedules it.
   * @throws Error naming the council's custom error (AnchorCouncilNotMember, AnchorCouncilAlreadyApproved, …)
   */
  async approve(
    op: Operation,
  ): Promise<{ approvals: number; threshold: number; scheduled: boolean; readyAt?: number }> {
    const args = [
      op.calls.map((c) => c.target),
      op.calls.map((c) => c.value),
      op.calls.map((c) => c.data),
      op.predecessor,
      op.salt,
    ] as const;
    let receipt;
    try {
      receipt = await (await this.contract.approve(...args)).wait();
    } catch (e) {
      throw refusal(e, this.contract.interface);
    }
    let approvals = 0;
    let threshold = 0;
    for (const log of receipt.logs) {
      const parsed =
        log.address.toLowerCase() === this.address.toLowerCase() ? this.contract.interface.parseLog(log) : null;
      if (parsed?.name === 'OperationApproved')
        [approvals, threshold] = [Number(parsed.args.approvals), Number(parsed.args.threshold)];
    }
    const scheduled = approvals >= threshold;
    return {
      approvals,
      threshold,
      scheduled,
      ...(scheduled ? { readyAt: Number(await this.contract.getTimestamp(op.id)) } : {}),
    };
  }

  /** Approves cancelling the scheduled operation `id`; the approval that reaches the threshold cancels it. */
  async approveCancel(id: string): Promise<{ approvals: number; threshold: number; cancelled: boolean }> {
    try {
      await (await this.contract.approveCancel(id)).wait();
    } catch (e) {
      throw refusal(e, this.contract.interface);
    }
    const [count] = (await this.contract.cancellations(id, await this.signer!.getAddress())) as [bigint, boolean];
    const cancelled = (await this.contract.isCancelled(id)) as boolean;
    return { approvals: Number(count), threshold: await this.threshold(), cancelled };
  }

  /**
   * Executes `op` once its delay has passed (any account may).
   * @throws Error naming TimelockUnexpectedOperationState when it is not ready (or not scheduled)
   */
  async execute(op: Operation): Promise<{ txHash: string; blockNumber: number }> {
    try {
      const receipt = await (
        await this.contract.executeBatch(
          op.calls.map((c) => c.target),
          op.calls.map((c) => c.value),
          op.calls.map((c) => c.data),
          op.predecessor,
          op.salt,
        )
      ).wait();
      return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
    } catch (e) {
      // A registry call that reverts reverts the execution with the registry's error.
      throw refusal(e, this.contract.interface, RegistryCalls.iface);
    }
  }

  /**
   * Where `id` stands, when it becomes executable (0 unless scheduled), and how many current
   * members approved it. Asked of the pending block, the one an execution would go into (an
   * idle development node's latest block never ages; see waitUntilReady).
   */
  async state(id: string): Promise<{ state: OperationState; readyAt: number; approvals: number; threshold: number }> {
    const [timelockState, readyAt, [approvals], threshold, cancelled] = await Promise.all([
      this.contract.getOperationState(id, { blockTag: 'pending' }) as Promise<bigint>,
      this.contract.getTimestamp(id) as Promise<bigint>,
      // The count is the same whichever member is asked about; the council itself is never one.
      this.contract.approvals(id, this.address) as Promise<[bigint, boolean]>,
      this.threshold(),
      this.contract.isCancelled(id) as Promise<boolean>,
    ]);
    const t = TIMELOCK_STATES[Number(timelockState)];
    const state: OperationState = cancelled
      ? 'cancelled'
      : t === 'unset'
        ? approvals > 0n
          ? 'proposed'
          : 'unknown'
        : t;
    return { state, readyAt: t === 'done' ? 0 : Number(readyAt), approvals: Number(approvals), threshold };
  }

  /** Every operation proposed to this council, oldest first, as its `OperationProposed` events carry it. */
  async proposals(id?: string): Promise<Array<Operation & { proposer: string; blockNumber: number }>> {
    const logs = await this.contract.queryFilter(this.contract.filters.OperationProposed(id ?? null), 0, 'latest');
    const seen = new Set<string>();
    const out: Array<Operation & { proposer: string; blockNumber: number }> = [];
    for (const log of logs) {
      // By position: a Result is an Array, so a member named `values` would be Array.prototype.values.
      const [opId, proposer, targets, values, payloads, predecessor, salt] = (
        log as unknown as { args: [string, string, string[], bigint[], string[], string, string] }
      ).args;
      // A change of members drops approvals, so the same operation may be proposed twice.
      if (seen.has(opId)) continue;
      seen.add(opId);
      const calls = [...targets].map((target, i) => ({ target, value: values[i], data: payloads[i] }));
      out.push({ id: opId, calls, predecessor, salt, proposer, blockNumber: log.blockNumber });
    }
    return out;
  }

  /** The operation `id` as proposed, or undefined if nobody proposed it to this council. */
  async find(id: string): Promise<Operation | undefined> {
    return (await this.proposals(id))[0];
  }
}

/**
 * Governance on a development chain: the registry's council is DEV_COUNCIL, whose members are
 * node-managed accounts, so `enact` approves with as many of them as the threshold needs, waits
 * out the (one-second) delay and executes: the same path as production, in one call.
 */
export class DevGovernance {
  private constructor(
    readonly provider: JsonRpcProvider,
    readonly registry: string,
    readonly council: string,
    private readonly members: JsonRpcSigner[],
  ) {}

  /** Deploys DEV_COUNCIL and an AnchorRegistry it governs, from node account 0. */
  static async deploy(provider: JsonRpcProvider): Promise<DevGovernance> {
    const signers = await Promise.all(DEV_COUNCIL.accounts.map((i) => provider.getSigner(i)));
    const council = await CouncilClient.deploy(signers[0], {
      members: await Promise.all(signers.map((s) => s.getAddress())),
      threshold: DEV_COUNCIL.threshold,
      minDelaySeconds: DEV_COUNCIL.minDelaySeconds,
    });
    const registry = await RegistryClient.deploy(signers[0], council);
    return new DevGovernance(provider, registry, council, signers);
  }

  /**
   * The development governance of an existing registry.
   * @throws Error when the registry's governor is not a council of this node's DEV_COUNCIL accounts
   */
  static async attach(provider: JsonRpcProvider, registry: string): Promise<DevGovernance> {
    const council = await new RegistryClient(provider, registry).governor();
    const signers = await Promise.all(DEV_COUNCIL.accounts.map((i) => provider.getSigner(i)));
    const members = new Set(
      ((await new CouncilClient(provider, council).members()) as string[]).map((a) => a.toLowerCase()),
    );
    const usable = [];
    for (const s of signers) if (members.has((await s.getAddress()).toLowerCase())) usable.push(s);
    if (usable.length < DEV_COUNCIL.threshold)
      throw new Error(
        `the council ${council} of registry ${registry} is not the development council (node accounts ${DEV_COUNCIL.accounts.join(', ')})`,
      );
    return new DevGovernance(provider, registry, council, usable);
  }

  /** A client of the council acting as development member `i` (0 is node account 0). */
  member(i = 0): CouncilClient {
    return new CouncilClient(this.provider, this.council, this.members[i]);
  }

  /** Approves `calls` as one operation with the threshold's worth of members, waits out the delay and executes it. */
  async enact(calls: Call[]): Promise<Operation> {
    const op = CouncilClient.operation(calls);
    let readyAt = 0;
    for (let i = 0; i < DEV_COUNCIL.threshold; i++) readyAt = (await this.member(i).approve(op)).readyAt ?? 0;
    await waitUntilReady(this.member(0), op.id, readyAt);
    await this.member(0).execute(op);
    return op;
  }
}

/**
 * Waits until operation `id` is executable in the chain's next block, i.e. until that block's
 * time reaches `readyAt`. Asked of the pending block: an idle development node mines nothing,
 * so its latest block stays stamped before `readyAt`, while its next one is stamped at least a
 * second later (and never before the wall clock).
 */
export async function waitUntilReady(
  council: CouncilClient,
  id: string,
  readyAt: number,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!((await council.contract.isOperationReady(id, { blockTag: 'pending' })) as boolean)) {
    if (Date.now() > deadline)
      throw new Error(`operation ${id} did not become ready by ${new Date(readyAt * 1000).toISOString()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
