/** What a `GatewayGroup` needs from its store. */
import type { UserUri } from '../../common/ids';
import type { CipherSuite } from '../core/crypto';
import type { CommitPolicy } from '../core/group';
import type { MlsStorage } from '../mls-storage';
import type { Identities } from './identities';
import type { SentGenerations } from './sent-generations';

export interface ResolvedOptions {
  readonly leafKeyMaxAgeMs: number;
  readonly leafKeyMaxMessages: number;
  readonly pastEpochs: number;
  readonly maxLoadedGroups: number;
  readonly ratchetTreeInWelcome: boolean;
  readonly policy?: CommitPolicy;
  readonly onMessageSent?: (groupId: Uint8Array, user: UserUri) => void;
}

export interface GroupDeps {
  readonly storage: MlsStorage;
  readonly identities: Identities;
  readonly suite: CipherSuite;
  readonly options: ResolvedOptions;
  readonly now: () => number;
  /** What each local leaf sent, kept across reloads of the group (no generation twice). */
  readonly sent: SentGenerations;
  /**
   * Called when the group object retires: a commit removed every local member (records deleted),
   * or a write failed after the in-memory state moved (reload from storage).
   */
  readonly onGone: (groupId: Uint8Array) => void;
}
