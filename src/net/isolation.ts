/**
 * Hangar's nftables table (`inet hangar`): isolation between networks and egress masquerade.
 * The rules are rendered by ruleset.ts from the networks whose bridges exist on this host, so
 * the kernel, not agent memory, is the source of truth and a restarted agent converges on the
 * same table. Only this one table is ever written or deleted.
 */
import type { NetRunner } from './apply.js';
import { ownedNetworks } from './bridge.js';
import { DEFAULT_TABLE } from './plan.js';
import { checkTableName, renderRuleset, renderTableRemoval } from './ruleset.js';

/** Keeps one nftables table in line with the host's 6PN networks. */
export class Isolation {
  readonly table: string;
  private applied: string | undefined;

  constructor(
    private readonly runner: NetRunner,
    table: string = DEFAULT_TABLE,
  ) {
    this.table = checkTableName(table);
  }

  /**
   * Re-renders the table for the networks with a Hangar bridge on this host, plus `extra`
   * (a network whose bridge is being created). Skips the reload when the text is unchanged.
   * @returns the networks the table now covers.
   * @throws NetError `HANGAR_ERR_NET_COMMAND` when nft fails (the old table stays in place).
   */
  async sync(extra: readonly number[] = []): Promise<number[]> {
    const networks = [...new Set([...(await ownedNetworks(this.runner)).map((n) => n.network), ...extra])].sort((a, b) => a - b);
    const script = renderRuleset(networks, this.table);
    if (script !== this.applied) {
      await this.runner.nft(script, `nftables table inet ${this.table}: apply rules for networks [${networks.join(', ')}]`);
      this.applied = script;
    }
    return networks;
  }

  /** Deletes the table (all of Hangar's rules); nothing else in nftables is touched. */
  async remove(): Promise<void> {
    await this.runner.nft(renderTableRemoval(this.table), `nftables table inet ${this.table}: delete`);
    this.applied = undefined;
  }
}
